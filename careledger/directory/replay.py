"""Rebuilds the participant directory from its events (see careledger.indexer)."""

from __future__ import annotations

from typing import Any

from careledger.indexer import DecodedEvent, Reads

CONTRACTS = ("ParticipantDirectory",)


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    people: dict[str, dict[str, Any]] = state.setdefault("participants", {})
    a = event.args
    if event.name == "ParticipantRegistered":
        people[a["account"]] = {"roles": a["roles"], "suspended": False, "credential": a["credentialCommitment"]}
    elif event.name == "ParticipantRolesChanged":
        people[a["account"]]["roles"] = a["roles"]
    elif event.name == "CredentialUpdated":
        people[a["account"]]["credential"] = a["credentialCommitment"]
    elif event.name == "ParticipantSuspended":
        people[a["account"]]["suspended"] = True
    elif event.name == "ParticipantReinstated":
        people[a["account"]]["suspended"] = False


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    directory = reads.contract("ParticipantDirectory")
    diffs = []
    for account, want in state.get("participants", {}).items():
        roles, suspended, _registered_at, credential = directory.functions.participant(account).call()
        got = {"roles": roles, "suspended": suspended, "credential": credential}
        if got != want:
            diffs.append(f"ParticipantDirectory {account}: log says {want}, chain says {got}")
    return diffs
