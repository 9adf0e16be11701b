"""Rebuilds the participant directory from its events (see careledger.indexer): every
participant (roles, suspension, registration time, credential commitment), key rotations (each
key's organisation and current key, pending proposals) and the registrar roles of OpenZeppelin's
AccessControl (who holds which role, and each role's admin role)."""

from __future__ import annotations

from typing import Any

from careledger.indexer import DecodedEvent, Reads

CONTRACTS = ("ParticipantDirectory",)
DEFAULT_ADMIN_ROLE = b"\0" * 32
ZERO = "0x" + "00" * 20
_RETIRED = {"roles": 0, "suspended": False, "registeredAt": 0, "credential": b"\0" * 32}


def _b(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    people: dict[str, dict[str, Any]] = state.setdefault("participants", {})
    members: dict[tuple[bytes, str], bool] = state.setdefault("role_members", {})
    admins: dict[bytes, bytes] = state.setdefault("role_admins", {})
    a = event.args
    if event.name == "ParticipantRegistered":
        people[a["account"]] = {
            "roles": a["roles"],
            "suspended": False,
            "registeredAt": event.timestamp,
            "credential": a["credentialCommitment"],
        }
    elif event.name == "ParticipantRolesChanged":
        people[a["account"]]["roles"] = a["roles"]
    elif event.name == "CredentialUpdated":
        people[a["account"]]["credential"] = a["credentialCommitment"]
    elif event.name == "ParticipantSuspended":
        people[a["account"]]["suspended"] = True
    elif event.name == "ParticipantReinstated":
        people[a["account"]]["suspended"] = False
    elif event.name == "KeyRotationProposed":
        state.setdefault("pending_rotations", {})[a["oldKey"]] = a["newKey"]
    elif event.name == "KeyRotated":
        old, new, org = a["oldKey"], a["newKey"], a["organisation"]
        people[new] = people[old]
        # The retired key keeps only its registration time (the directory's mark of retirement).
        people[old] = {**_RETIRED, "registeredAt": people[new]["registeredAt"]}
        state.setdefault("pending_rotations", {})[old] = ZERO
        orgs: dict[str, str] = state.setdefault("organisation_of", {})
        orgs[old] = orgs[new] = org
        state.setdefault("current_key", {})[org] = new
    elif event.name == "RoleGranted":
        members[(_b(a["role"]), a["account"])] = True
    elif event.name == "RoleRevoked":
        members[(_b(a["role"]), a["account"])] = False
    elif event.name == "RoleAdminChanged":
        admins[_b(a["role"])] = _b(a["newAdminRole"])


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    fn = reads.contract("ParticipantDirectory").functions
    diffs = []
    for account, want in state.get("participants", {}).items():
        roles, suspended, registered_at, credential = fn.participant(account).call()
        got = {"roles": roles, "suspended": suspended, "registeredAt": registered_at, "credential": credential}
        if got != want:
            diffs.append(f"ParticipantDirectory {account}: log says {want}, chain says {got}")
    for old, new in state.get("pending_rotations", {}).items():
        if fn.pendingRotation(old).call() != new:
            diffs.append(f"ParticipantDirectory pendingRotation({old}): log says {new}")
    current: dict[str, str] = state.get("current_key", {})
    for key, org in state.get("organisation_of", {}).items():
        chain_says = (fn.organisationOf(key).call(), fn.currentKey(key).call())
        if chain_says != (org, current[org]):
            diffs.append(
                f"ParticipantDirectory key {key}: log says organisation {org}, key {current[org]}; chain {chain_says}"
            )
    members: dict[tuple[bytes, str], bool] = state.get("role_members", {})
    for (role, account), held in members.items():
        if fn.hasRole(role, account).call() != held:
            diffs.append(f"ParticipantDirectory hasRole(0x{role.hex()}, {account}): log says {held}")
    admins: dict[bytes, bytes] = state.get("role_admins", {})
    for role in {r for r, _ in members} | set(admins):
        want_admin = admins.get(role, DEFAULT_ADMIN_ROLE)
        got_admin = bytes(fn.getRoleAdmin(role).call())
        if got_admin != want_admin:
            diffs.append(
                f"ParticipantDirectory getRoleAdmin(0x{role.hex()}): log says 0x{want_admin.hex()}, "
                f"chain says 0x{got_admin.hex()}"
            )
    return diffs
