"""On-chain data the browser tests and the web bench look at, made with the domain SDKs.

Imports a domain only inside the function that needs it, so this module loads before the
domain has landed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from careledger.accounts import dev_account
from careledger.chain import Chain
from careledger.deployments import load_deployment

__all__ = ["GTIN", "dispense_unit", "scan", "seed_claims", "seed_drugs"]

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

    # Two years after the chain's own date (a devnet's clock may be pinned far from the calendar).
    chain_day = datetime.fromtimestamp(client("manufacturer").chain_time(), UTC).date()
    expiry = (chain_day + timedelta(days=730)).strftime("%y%m%d")
    distributor, pharmacy = dev_account("distributor").address, dev_account("pharmacy").address
    maker = client("manufacturer")
    good = build_batch(GTIN, "LOT-A", int(expiry), [f"SN{i:05d}" for i in range(1, units + 1)])
    recalled = build_batch(GTIN, "LOT-R", int(expiry), [f"RC{i:05d}" for i in range(1, 101)])
    for batch in (good, recalled):
        maker.commission_serials(batch, store)
    # A batch whose serial tree this pharmacy never received (not in its store).
    maker.commission_serials(build_batch(GTIN, "LOT-U", int(expiry), ["UN00001", "UN00002"]))
    a, r = good.batch_id, recalled.batch_id
    # Positions 0-199 to the distributor, 0-49 of them on to the pharmacy.
    client("manufacturer").ship(a, distributor, 200, code32("DSCSA-TI-A-0001"), start=0)
    client("distributor").accept(a, 0)
    client("distributor").ship(a, pharmacy, 50, code32("DSCSA-TI-A-0002"), start=0)
    client("pharmacy").accept(a, 0)
    client("manufacturer").ship(r, distributor, 100, code32("DSCSA-TI-R-0001"), start=0)
    client("distributor").accept(r, 0)
    client("regulator").recall(r, code32("CONTAMINATION"))
    return {
        "good": scan("LOT-A", "SN00001", expiry),
        # Position 50: in the parcel (50-199) the distributor still holds.
        "at_distributor": scan("LOT-A", "SN00051", expiry),
        "to_dispense": scan("LOT-A", "SN00002", expiry),
        "recalled": scan("LOT-R", "RC00001", expiry),
        "counterfeit": scan("LOT-A", "FAKE0001", expiry),
        "wrong_expiry": scan("LOT-A", "SN00003", "991231" if expiry != "991231" else "981231"),
        "unknown_lot": scan("LOT-Z", "SN00001", expiry),
        "no_tree": scan("LOT-U", "UN00001", expiry),
        "expiry": expiry,
    }


DAY = 86_400
USD = 10**6  # DevnetTestUSD has 6 decimals, like USDC
OFFICE_VISIT, MRI, DRUG = "CPT:99213", "CPT:70551", f"GTIN:{GTIN:014d}"


PLAN_KEY = bytes.fromhex("7f" * 32)  # the seeded plan's code key (the browser test types it in)


def seed_claims(admin: Chain) -> dict[str, Any]:
    """A plan of the insurer (code key :data:`PLAN_KEY`, rule table 1 in force) with a funded
    pool; patient2 enrolled (its signature) and consenting to payment by the clinic and the
    pharmacy. Office visits settle by the rules, MRIs need an adjuster, the drug line needs a
    dispensed unit of GTIN. Through the claims SDK."""
    from careledger.claims._consent import grant_payment_consent
    from careledger.claims.client import ClaimsClient
    from careledger.claims.types import PLAN_YEAR, CodeKey, CoverageRule, PlanTerms

    deployment = load_deployment(admin.w3)
    insurer = ClaimsClient(admin.with_account(dev_account("insurer").account), deployment)
    member = dev_account("patient2")
    now = int(admin.w3.eth.get_block("latest")["timestamp"])
    terms = PlanTerms(20 * USD, 5_000 * USD, 500 * USD, 30 * DAY, (now // DAY - 30) * DAY, PLAN_YEAR, 90 * DAY)
    plan, _ = insurer.create_plan(terms)
    key = CodeKey(PLAN_KEY)
    rules = {
        key.digest(plan, OFFICE_VISIT): CoverageRule(True, False, False, False, 2_000, 10 * USD, 0),
        key.digest(plan, MRI): CoverageRule(True, True, False, False, 1_000, 0, 0),  # prior authorisation
        key.digest(plan, DRUG): CoverageRule(True, False, True, False, 0, 5 * USD, 0),  # a dispensed unit
    }
    insurer.coverage_now(plan, key.key_id, rules, {key.digest(plan, DRUG): key.gtin_binding(plan, DRUG, GTIN)})
    period = insurer.period_at(plan, now)
    deadline = now + 7 * DAY
    signature = insurer.sign_enrolment(member.account, plan, b"\x05" * 32, period, period, deadline)
    insurer.enrol(plan, member.address, b"\x05" * 32, period, period, deadline, signature)
    insurer.mint_test_tokens(dev_account("insurer").address, 100_000 * USD)
    insurer.fund(plan, 50_000 * USD)
    until = now + 365 * DAY
    for grantee in ("clinic", "pharmacy"):
        grant_payment_consent(
            admin.with_account(member.account), deployment, dev_account(grantee).address, until, b"\x06" * 32
        )
    return {"plan": plan, "member": member.address, "usd": USD, "planKey": "0x" + PLAN_KEY.hex()}


def dispense_unit(admin: Chain, store_dir: Path, scan_text: str) -> None:
    """The pharmacy dispenses the unit of ``scan_text`` (LOT-A), with the proof from the store."""
    from careledger.provenance.client import ProvenanceClient
    from careledger.provenance.store import ProvenanceStore

    lot = scan_text.split("(10)")[1].split("(21)")[0]
    serial = scan_text.split("(21)")[1]
    found = ProvenanceStore(store_dir).proof_only(GTIN, lot, serial)
    assert found and found[1], f"{serial} is not in the stored tree of {lot}"
    pharmacy = ProvenanceClient(admin.with_account(dev_account("pharmacy").account), load_deployment(admin.w3))
    pharmacy.dispense(GTIN, lot, serial, found[0], found[1])
