"""On-chain data the browser tests and the web bench look at, made with the domain SDKs.

Imports a domain only inside the function that needs it, so this module loads before the
domain has landed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from careledger.accounts import dev_account
from careledger.chain import Chain
from careledger.deployments import load_deployment

__all__ = ["GTIN", "scan", "seed_drugs"]

GTIN = 9506000134352  # GS1's example GTIN-14 0950600013435-2 (valid check digit)


def scan(lot: str, serial: str, expiry: str) -> str:
    return f"(01){GTIN:014d}(17){expiry}(10){lot}(21){serial}"


def seed_drugs(admin: Chain, store_dir: Path, units: int = 1000) -> dict[str, str]:
    """Commission LOT-A (shipped to the pharmacy) and LOT-R (recalled); return scans by name."""
    from careledger.provenance.client import ProvenanceClient, code32
    from careledger.provenance.store import ProvenanceStore, build_batch

    deployment = load_deployment(admin.w3)
    store = ProvenanceStore(store_dir)

    def client(name: str) -> ProvenanceClient:
        return ProvenanceClient(admin.with_account(dev_account(name).account), deployment)

    expiry = (date.today() + timedelta(days=730)).strftime("%y%m%d")
    distributor, pharmacy = dev_account("distributor").address, dev_account("pharmacy").address
    good = build_batch(GTIN, "LOT-A", int(expiry), [f"SN{i:05d}" for i in range(1, units + 1)])
    recalled = build_batch(GTIN, "LOT-R", int(expiry), [f"RC{i:05d}" for i in range(1, 101)])
    for batch in (good, recalled):
        store.save(batch)
        client("manufacturer").commission(batch)
    a, r = good.batch_id, recalled.batch_id
    client("manufacturer").ship(a, distributor, 200, code32("DSCSA-TI-A-0001"))
    client("distributor").accept(a)
    client("distributor").ship(a, pharmacy, 50, code32("DSCSA-TI-A-0002"))
    client("pharmacy").accept(a)
    client("manufacturer").ship(r, distributor, 100, code32("DSCSA-TI-R-0001"))
    client("distributor").accept(r)
    client("regulator").recall(r, code32("CONTAMINATION"))
    return {
        "good": scan("LOT-A", "SN00001", expiry),
        "to_dispense": scan("LOT-A", "SN00002", expiry),
        "recalled": scan("LOT-R", "RC00001", expiry),
        "counterfeit": scan("LOT-A", "FAKE0001", expiry),
        "wrong_expiry": scan("LOT-A", "SN00003", "991231" if expiry != "991231" else "981231"),
        "unknown_lot": scan("LOT-Z", "SN00001", expiry),
        "expiry": expiry,
    }
