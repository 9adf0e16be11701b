"""Rebuilds the consent registry from its events alone (see :mod:`careledger.indexer`): every
(patient, grantee) consent slot, patient-wide denies, delegates, break-glass windows and studies,
then compares them with the registry's reads."""

from __future__ import annotations

from typing import Any

from careledger.indexer import DecodedEvent, Reads

CONTRACTS = ("ConsentRegistry",)

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
    delegates: dict[tuple[str, str], int] = state.setdefault("delegates", {})
    glass: dict[tuple[str, str], dict[str, Any]] = state.setdefault("glass", {})
    studies: dict[str, tuple[Any, ...]] = state.setdefault("studies", {})
    a, name = event.args, event.name
    if name == "ConsentGranted":
        key = (a["patient"], a["grantee"])
        seq = consents.get(key, {"seq": 0})["seq"] + 1
        consents[key] = {"id": a["consentId"], "seq": seq, **{f: a[f] for f in CONSENT_FIELDS[2:]}}
    elif name == "ConsentModified":
        c = consents[(a["patient"], a["grantee"])]
        c.update({k: a[k] for k in ("categories", "purposes", "denyCategories", "denyPurposes", "validUntil")})
    elif name == "ConsentRevoked":
        consents[(a["patient"], a["grantee"])].update(_CLEARED)
    elif name == "PatientDenySet":
        deny[a["patient"]] = (a["categories"], a["purposes"])
    elif name == "DelegateAppointed":
        delegates[(a["patient"], a["delegate"])] = a["kind"]
    elif name == "DelegateRemoved":
        delegates[(a["patient"], a["delegate"])] = 0
    elif name == "BreakGlassOpened":
        key = (a["patient"], a["provider"])
        seq = glass.get(key, {"seq": 0})["seq"] + 1
        glass[key] = {"id": a["breakGlassId"], "seq": seq, "until": a["until"], "reason": a["reason"]}
    elif name == "StudyRegistered":
        studies[a["study"]] = (a["sponsor"], a["version"], _b(a["form"]))
    elif name == "StudyAmended":
        studies[a["study"]] = (studies[a["study"]][0], a["version"], _b(a["form"]))
    elif name == "AccessRecorded":
        state["accesses"] = state.get("accesses", 0) + 1


def _b(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    registry = reads.contract("ConsentRegistry").functions
    diffs: list[str] = []

    def compare(what: str, want: Any, got: Any) -> None:
        if want != got:
            diffs.append(f"ConsentRegistry {what}: log says {want}, chain says {got}")

    for (p, g), want in state.get("consents", {}).items():
        compare(f"consentOf({p}, {g})", tuple(want[f] for f in CONSENT_FIELDS), tuple(registry.consentOf(p, g).call()))
    for p, want in state.get("deny", {}).items():
        compare(f"patientDenyOf({p})", want, tuple(registry.patientDenyOf(p).call()))
    for (p, d), kind in state.get("delegates", {}).items():
        compare(f"delegateKind({p}, {d})", kind, registry.delegateKind(p, d).call())
    for (p, prov), want in state.get("glass", {}).items():
        compare(
            f"breakGlassOf({p}, {prov})",
            (want["id"], want["seq"], want["until"], want["reason"]),
            tuple(registry.breakGlassOf(p, prov).call()),
        )
    for s, want in state.get("studies", {}).items():
        got = tuple(registry.studyOf(s).call())
        compare(f"studyOf({s})", want, (got[0], got[1], _b(got[2])))
    return diffs
