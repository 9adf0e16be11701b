"""Verification verdicts in DSCSA vocabulary (kept free of heavy imports: the CLI's verify path
loads this module, not the web3-based client)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from careledger.provenance.ids import batch_id, unit_id

__all__ = ["Verdict", "VerifyResult"]

ZERO_ADDRESS = "0x" + "00" * 20


class Verdict(IntEnum):
    """``IProvenanceRegistry.Verdict``, named as the DSCSA Verification Router answers."""

    VERIFIED = 0
    NO_MATCH_GTIN_SERIAL = 1
    NO_MATCH_LOT = 2
    NO_MATCH_EXPIRY = 3
    RECALLED = 4
    EXPIRED = 5
    SUSPECT = 6
    DISPENSED = 7
    UNKNOWN_BATCH = 8
    VOIDED = 9

    @property
    def dscsa(self) -> str:
        return _DSCSA[self]


_DSCSA = {
    Verdict.VERIFIED: "Verified",
    Verdict.NO_MATCH_GTIN_SERIAL: "No_match_GTIN_Serial",
    Verdict.NO_MATCH_LOT: "No_match_Lot",
    Verdict.NO_MATCH_EXPIRY: "No_match_Expiry",
    Verdict.RECALLED: "Recalled",
    Verdict.EXPIRED: "Expired",
    Verdict.SUSPECT: "Suspect",
    Verdict.DISPENSED: "Dispensed",
    Verdict.UNKNOWN_BATCH: "Unknown_batch",
    Verdict.VOIDED: "Voided",
}


@dataclass(frozen=True)
class VerifyResult:
    verdict: Verdict
    dispensed_by: str | None  # the pharmacy that dispensed the unit: a custody fact, not the caller
    gtin: int
    lot: str
    expiry: int
    serial: str

    @property
    def verified(self) -> bool:
        return self.verdict is Verdict.VERIFIED

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "verdict": self.verdict.dscsa,
            "dispensedBy": self.dispensed_by,
            "gtin": f"{self.gtin:014d}",
            "lot": self.lot,
            "expiry": f"{self.expiry:06d}",
            "serial": self.serial,
            "unitId": "0x" + unit_id(self.gtin, self.serial).hex(),
            "batchId": "0x" + batch_id(self.gtin, self.lot).hex(),
        }
