"""Rebuilds the consent registry from its events alone (see :mod:`careledger.indexer`): every
(patient, grantee) consent slot, patient-wide denies, delegates, break-glass windows and studies,
and, from the recovery module's events, each pseudonym's guardian commitment, pending recovery,
recovery nonce and successor; then compares them with the contracts' reads."""

from __future__ import annotations

from typing import Any

from careledger.codes import Category, Purpose
from careledger.indexer import DecodedEvent, Reads

_BREAK_GLASS_WINDOW = 4 * 3600  # ConsentRegistry.BREAK_GLASS_WINDOW

CONTRACTS = ("ConsentRegistry", "ConsentRecovery")
# A deployments file written before the recovery module existed lacks it (its registry has none).
OPTIONAL_CONTRACTS = ("ConsentRecovery",)

RECOVERY_EVENTS = ("GuardiansSet", "RecoveryStarted", "RecoveryCancelled", "RecoveryExecuted")
_ALL_DENY = ((1 << len(Category)) - 1, (1 << len(Purpose)) - 1)  # a retired pseudonym's deny
_ZERO = "0x" + "00" * 20
_NO_GUARDIANS = (bytes(32), 0, 0)

CONSENT_FIELDS = (
    "id",
    "seq",
    "categories",
    "purposes",
    "denyCategories",
    "denyPurposes",
    "validFrom",
    "validUntil",
    "formVersion",
)
_CLEARED = {
    "categories": 0,
    "purposes": 0,
    "denyCategories": 0,
    "denyPurposes": 0,
    "validFrom": 0,
    "validUntil": 0,
    "formVersion": 0,
}


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    consents: dict[tuple[str, str], dict[str, Any]] = state.setdefault("consents", {})
    deny: dict[str, tuple[int, int]] = state.setdefault("deny", {})
    delegates: dict[tuple[str, str], tuple[int, int, int]] = state.setdefault("delegates", {})
    glass: dict[tuple[str, str], dict[str, Any]] = state.setdefault("glass", {})
    studies: dict[str, tuple[Any, ...]] = state.setdefault("studies", {})
    a, name = event.args, event.name
    if name == "ConsentGranted":
        key = (a["patient"], a["grantee"])
        old = consents.get(key, {"seq": 0, "nonce": 0})
        consents[key] = {
            "id": a["consentId"],
            "seq": old["seq"] + 1,
            "nonce": old["nonce"] + 1,
            **{f: a[f] for f in CONSENT_FIELDS[2:]},
        }
    elif name == "ConsentModified":
        c = consents[(a["patient"], a["grantee"])]
        c.update({k: a[k] for k in ("categories", "purposes", "denyCategories", "denyPurposes", "validUntil")})
        c["nonce"] += 1
    elif name == "ConsentRevoked":
        c = consents[(a["patient"], a["grantee"])]
        c.update(_CLEARED)
        c["nonce"] += 1
    elif name == "PatientDenySet":
        deny[a["patient"]] = (a["categories"], a["purposes"])
    elif name == "DelegateAppointed":
        delegates[(a["patient"], a["delegate"])] = (a["kind"], a["categories"], a["purposes"])
    elif name == "DelegateRemoved":
        delegates[(a["patient"], a["delegate"])] = (0, 0, 0)
    elif name == "BreakGlassOpened":
        key = (a["patient"], a["provider"])
        old = glass.get(key, {"seq": 0, "day": -1, "openedToday": 0})
        # The window opens at the block's time: until - BREAK_GLASS_WINDOW (4 h).
        day = (a["until"] - _BREAK_GLASS_WINDOW) // 86_400
        opened = old["openedToday"] + 1 if old["day"] == day else 1
        glass[key] = {
            "id": a["breakGlassId"],
            "seq": old["seq"] + 1,
            "until": a["until"],
            "reason": a["reason"],
            "day": day,
            "openedToday": opened,
        }
    elif name == "BreakGlassReviewed":
        state.setdefault("reviewed", set()).add(a["breakGlassId"])
    elif name == "SignaturesCancelled" and int(a["grantee"], 16) != 0:
        key = (a["patient"], a["grantee"])
        consents.setdefault(key, {"id": 0, "seq": 0, "nonce": 0, **_CLEARED})["nonce"] += 1
    elif name == "StudyRegistered":
        studies[a["study"]] = (a["sponsor"], a["version"], 1, _b(a["form"]))
    elif name == "StudyAmended":
        old_study = studies[a["study"]]
        studies[a["study"]] = (old_study[0], a["version"], old_study[2], _b(a["form"]))
    elif name == "StudyStatusSet":
        old_study = studies[a["study"]]
        studies[a["study"]] = (old_study[0], old_study[1], a["status"], old_study[3])
    elif name == "AccessRecorded":
        state["accesses"] = state.get("accesses", 0) + 1
    elif name == "PatientRetired":
        deny[a["patient"]] = _ALL_DENY
        state.setdefault("successors", {})[a["patient"]] = a["successor"]
    elif name in RECOVERY_EVENTS:
        _reduce_recovery(state, event)


def _reduce_recovery(state: dict[str, Any], event: DecodedEvent) -> None:
    """ConsentRecovery: {patient: {"guardians": (hash, threshold, delay), "pending": (successor,
    executableAt), "nonce": recoveryNonce}}."""
    a, name = event.args, event.name
    rec = state.setdefault("recovery", {}).setdefault(
        a["patient"], {"guardians": _NO_GUARDIANS, "pending": (_ZERO, 0), "nonce": 0}
    )
    if name == "GuardiansSet":
        rec["guardians"] = (_b(a["guardiansHash"]), a["threshold"], a["delay"])
        rec["nonce"] += 1
    elif name == "RecoveryStarted":
        rec["pending"] = (a["successor"], a["executableAt"])
    elif name == "RecoveryCancelled":
        rec["pending"] = (_ZERO, 0)
        rec["nonce"] = a["recoveryNonce"] + 1
    elif name == "RecoveryExecuted":
        rec.update(guardians=_NO_GUARDIANS, pending=(_ZERO, 0), nonce=rec["nonce"] + 1)


def _b(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    registry = reads.contract("ConsentRegistry").functions
    diffs: list[str] = []

    def compare(what: str, want: Any, got: Any) -> None:
        if want != got:
            diffs.append(f"ConsentRegistry {what}: log says {want}, chain says {got}")

    for (p, g), want in state.get("consents", {}).items():
        if want["seq"]:
            got = tuple(registry.consentOf(p, g).call())
            compare(f"consentOf({p}, {g})", tuple(want[f] for f in CONSENT_FIELDS), got)
        compare(f"pairNonce({p}, {g})", want["nonce"], registry.pairNonce(p, g).call())
    for p, want in state.get("deny", {}).items():
        compare(f"patientDenyOf({p})", want, tuple(registry.patientDenyOf(p).call()))
    for (p, d), scope in state.get("delegates", {}).items():
        compare(f"delegateOf({p}, {d})", scope, tuple(registry.delegateOf(p, d).call()))
    for (p, prov), want in state.get("glass", {}).items():
        compare(
            f"breakGlassOf({p}, {prov})",
            tuple(want[k] for k in ("id", "seq", "until", "reason", "day", "openedToday")),
            tuple(registry.breakGlassOf(p, prov).call()),
        )
    for bg_id in state.get("reviewed", set()):
        compare(f"breakGlassReviewed({bg_id:#x})", True, registry.breakGlassReviewed(bg_id).call())
    for s, want in state.get("studies", {}).items():
        got = tuple(registry.studyOf(s).call())
        compare(f"studyOf({s})", want, (got[0], got[1], got[2], _b(got[3])))
    for p, successor in state.get("successors", {}).items():
        compare(f"successorOf({p})", successor, registry.successorOf(p).call())
    recoveries = state.get("recovery", {})
    if recoveries:
        module = reads.contract("ConsentRecovery").functions
        for p, rec in recoveries.items():
            g = tuple(module.guardiansOf(p).call())
            compare(f"guardiansOf({p})", rec["guardians"], (_b(g[0]), g[1], g[2]))
            compare(f"pendingRecoveryOf({p})", rec["pending"], tuple(module.pendingRecoveryOf(p).call()))
            compare(f"recoveryNonce({p})", rec["nonce"], module.recoveryNonce(p).call())
    return diffs
