"""Demo story: a batch from the manufacturer to a pharmacy, a counterfeit and a clone caught,
a recall stopping a second batch mid-route. Leaves ``dispensed_unit`` and ``recalled_unit`` in
``env.shared`` for the claims story."""

from __future__ import annotations

from typing import Any

from careledger.demo.framework import DemoEnv, Story
from careledger.provenance.client import ProvenanceClient, Verdict, code32
from careledger.provenance.gs1 import expiry_after
from careledger.provenance.ids import unit_id
from careledger.provenance.store import BatchFile, ProvenanceStore, build_batch

GTIN = 9506000134352
FOREIGN_GTIN = 614141000012  # 00614141000012: company prefix 0614141, attested to nobody on the devnet
EXPIRY_DAYS = 3 * 365  # batches expire about three years after the chain's date
TI_TS = code32("0x" + "a1" * 32, "document")  # commitment to the TI/TS document kept off chain


def _unit(b: BatchFile, serial: str, pharmacy: str) -> dict[str, Any]:
    return {
        "unitId": "0x" + unit_id(b.gtin, serial).hex(),
        "gtin": f"{b.gtin:014d}",
        "serial": serial,
        "lot": b.lot,
        "pharmacy": pharmacy,
        "batchId": "0x" + b.batch_id.hex(),
    }


def story(env: DemoEnv) -> Story:
    st = Story("Drug provenance: from the manufacturer to the patient's pharmacy")
    mfr = ProvenanceClient(env.signer("manufacturer"), env.deployment)
    dist = ProvenanceClient(env.signer("distributor"), env.deployment)
    pharm = ProvenanceClient(env.signer("pharmacy"), env.deployment)
    reg = ProvenanceClient(env.signer("regulator"), env.deployment)
    d_addr, p_addr = env.who("distributor").address, env.who("pharmacy").address
    store = ProvenanceStore(env.workdir / "provenance")
    # Dated from the chain's clock, not the calendar: the demo reads the same on any day.
    expiry = int(expiry_after(EXPIRY_DAYS, mfr.chain_time()))

    a = build_batch(GTIN, "DEMO-A", expiry, (f"A{i:07d}" for i in range(10_000)))
    foreign = build_batch(FOREIGN_GTIN, "DEMO-X", expiry, ["X0000001"])
    st.refused(
        "manufacturer",
        f"commission GTIN {FOREIGN_GTIN:014d}, whose GS1 company prefix is not its own",
        "NotGtinOwner",
        lambda: mfr.commission_serials(foreign, store),
    )
    st.done(
        "manufacturer",
        "commission 10,000 units of its own GTIN (one Merkle root on chain)",
        mfr.commission_serials(a, store).receipt,
    )
    st.done(
        "manufacturer",
        "ship the whole batch to the distributor (TI/TS committed)",
        mfr.ship(a.batch_id, d_addr, 10_000, TI_TS, start=0),
    )
    st.refused(
        "distributor",
        "ship units still in transit to it",
        "NotParcelHolder",
        lambda: dist.ship(a.batch_id, p_addr, 1, TI_TS, start=0),
    )
    st.done("distributor", "accept the shipment", dist.accept(a.batch_id, 0))
    st.done(
        "distributor",
        "ship 1 unit (position 0) to the pharmacy, left in transit",
        dist.ship(a.batch_id, p_addr, 1, TI_TS, start=0),
    )
    st.done(
        "distributor",
        "ship positions 1-100 to the pharmacy: the 1-unit shipment does not block it",
        dist.ship(a.batch_id, p_addr, 100, TI_TS, start=1),
    )
    st.done("pharmacy", "accept positions 1-100", pharm.accept(a.batch_id, 1))
    st.done("pharmacy", "accept position 0", pharm.accept(a.batch_id, 0))

    unit, second = a.serials[42], a.serials[43]
    i_unit, p_unit = _at(a, unit)
    r = pharm.verify(GTIN, a.lot, expiry, unit, i_unit, p_unit)
    st.check(
        "pharmacy",
        f"scan and verify unit {unit}",
        f"{r.verdict.dscsa}, dispensed by {r.dispensed_by}",
        r.verified and r.dispensed_by is None,
    )
    st.done("pharmacy", f"dispense unit {unit}", pharm.dispense(GTIN, a.lot, unit, i_unit, p_unit))

    fake = "FAKE0000001"
    r = pharm.verify(GTIN, a.lot, expiry, fake, i_unit, p_unit)
    st.check(
        "pharmacy",
        f"verify a counterfeit (unknown serial {fake})",
        r.verdict.dscsa,
        r.verdict is Verdict.NO_MATCH_GTIN_SERIAL,
    )
    st.refused(
        "pharmacy",
        "dispense the counterfeit",
        "SerialNotInBatch",
        lambda: pharm.dispense(GTIN, a.lot, fake, i_unit, p_unit),
    )
    st.refused(
        "pharmacy",
        f"dispense a clone of {unit} (second dispense)",
        "UnitAlreadyDispensed",
        lambda: pharm.dispense(GTIN, a.lot, unit, i_unit, p_unit),
    )
    r = pharm.verify(GTIN, a.lot, expiry, unit, i_unit, p_unit)
    st.check("pharmacy", "verify the clone", r.verdict.dscsa, r.verdict is Verdict.DISPENSED)
    elsewhere = a.serials[5_000]
    st.refused(
        "pharmacy",
        f"dispense {elsewhere}, a genuine serial still with the distributor",
        "SerialNotInParcel",
        lambda: pharm.dispense(GTIN, a.lot, elsewhere, *_at(a, elsewhere), parcel=1),
    )
    st.done(
        "pharmacy",
        f"dispense unit {second} for a patient's prescription",
        pharm.dispense(GTIN, a.lot, second, *_at(a, second)),
    )
    env.shared["dispensed_unit"] = _unit(a, second, p_addr)

    b = build_batch(GTIN, "DEMO-B", expiry, (f"B{i:07d}" for i in range(1_000)))
    st.done("manufacturer", "commission a second batch of 1,000 units", mfr.commission_serials(b, store).receipt)
    mfr.ship(b.batch_id, d_addr, 1_000, TI_TS, start=0)
    dist.accept(b.batch_id, 0)
    dist.ship(b.batch_id, p_addr, 10, TI_TS, start=0)
    pharm.accept(b.batch_id, 0)
    early = b.serials[5]
    st.done(
        "pharmacy",
        f"dispense unit {early} of the second batch",
        pharm.dispense(GTIN, b.lot, early, *_at(b, early)),
    )
    st.done(
        "distributor",
        "ship 50 more units of it (positions 10-59) to the pharmacy",
        dist.ship(b.batch_id, p_addr, 50, TI_TS, start=10),
    )
    st.done(
        "regulator",
        "recall the second batch while 50 units are on the road",
        reg.recall(b.batch_id, code32("CLASS-I-CONTAMINATION")),
    )
    st.refused("pharmacy", "accept the recalled shipment", "BatchIsRecalled", lambda: pharm.accept(b.batch_id, 10))
    probe = b.serials[6]
    st.refused(
        "pharmacy",
        "dispense a unit of the recalled batch",
        "BatchIsRecalled",
        lambda: pharm.dispense(GTIN, b.lot, probe, *_at(b, probe), parcel=0),
    )
    r = pharm.verify(GTIN, b.lot, expiry, probe, *_at(b, probe))
    st.check("pharmacy", "verify a unit of the recalled batch", r.verdict.dscsa, r.verdict is Verdict.RECALLED)
    record = pharm.dispense_of(unit_id(GTIN, early))
    st.check(
        "claims (reads)",
        "dispenseOf the unit dispensed before the recall",
        f"recalled={record.recalled if record else None}",
        record is not None and record.recalled and record.pharmacy == p_addr,
    )
    st.done(
        "pharmacy", "reject the recalled shipment: the units go back", pharm.reject(b.batch_id, code32("RECALL"), 10)
    )
    env.shared["recalled_unit"] = _unit(b, early, p_addr)
    st.notes.append(
        "serials and Merkle trees stay off chain; the chain holds one root per batch and, per parcel, "
        "the range of serial positions each party holds"
    )
    return st


def _at(b: BatchFile, serial: str) -> tuple[int, list[bytes]]:
    found = b.locate(serial)
    assert found is not None, f"{serial} is not in batch {b.lot}"
    return found
