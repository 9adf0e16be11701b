"""The gateway's store on both databases it supports, SQLite (the default) and PostgreSQL (a
throwaway cluster from tools/postgres.py; skipped, saying why, where none can be had): records
round-trip encrypted, keys stay in the sealed key file, replay ids are single use, erasure
destroys key, salt and ciphertext, and a malformed resource writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg_cluster
import pytest
import sqlalchemy as sa

from careledger.codes import Category
from careledger.errors import InvalidInput, NotVerified
from careledger.gateway.protocol import canonical, record_commitment
from careledger.gateway.store import GatewayStore, category_of, gateway_store_url, records

PSEUDONYM = "0x00000000000000000000000000000000000000A1"
REPORT: dict[str, Any] = {
    "resourceType": "DiagnosticReport",
    "status": "final",
    "code": {"text": "HbA1c"},
    "conclusion": "HbA1c 6.1 %",
}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with pg_cluster.cluster("careledger-pg-gw-", "the gateway store test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GatewayStore]:
    if request.param == "sqlite":
        db: str = str(tmp_path / "gw.sqlite")
    else:
        db = request.getfixturevalue("postgres_url")
    s = GatewayStore(db, tmp_path / "gw.keys", "a passphrase for the test")
    try:
        yield s
    finally:
        if request.param == "postgresql":
            with s.engine.begin() as c:
                for t in ("records", "requests", "disclosures"):
                    c.execute(sa.text(f"DROP TABLE IF EXISTS {t}"))
        s.engine.dispose()


def test_round_trip_erase_and_replay_ids(store: GatewayStore, tmp_path: Path) -> None:
    rec, salt = store.put(PSEUDONYM, REPORT)
    assert rec.category == Category.DIAGNOSTIC_REPORT
    assert rec.commitment == record_commitment(salt, PSEUDONYM, canonical(REPORT))
    body, salt2 = store.open(store.get(rec.record_id))
    assert body == canonical(REPORT) and salt2 == salt
    with store.engine.connect() as c:
        blob = c.execute(sa.select(records.c.ciphertext)).scalar_one()
    assert b"HbA1c" not in blob and b"HbA1c" not in (tmp_path / "gw.keys").read_bytes()
    # A fresh process (same database, same key file) reads it back.
    again = GatewayStore(
        str(store.engine.url.render_as_string(hide_password=False)), tmp_path / "gw.keys", "a passphrase for the test"
    )
    assert again.open(again.get(rec.record_id))[0] == canonical(REPORT)
    again.engine.dispose()
    # Replay ids are single use.
    rid = bytes.fromhex("ab" * 32)
    assert store.claim_request(rid, PSEUDONYM, 1) and not store.claim_request(rid, PSEUDONYM, 2)
    # Erasure: key, salt and ciphertext gone; the entry stays; reading refuses.
    entry = store.erase(rec.record_id, PSEUDONYM, "test")
    assert rec.record_id not in store.keyfile.load()
    assert store.get(rec.record_id).erasure == entry
    with pytest.raises(NotVerified, match="erased"):
        store.open(store.get(rec.record_id))
    with pytest.raises(InvalidInput, match="already erased"):
        store.erase(rec.record_id, PSEUDONYM, "again")


def test_malformed_resource_writes_nothing(store: GatewayStore) -> None:
    for bad in ({"resourceType": "DiagnosticReport", "status": "final"}, {"resourceType": "Nope"}, "text"):
        with pytest.raises(InvalidInput):
            store.put(PSEUDONYM, bad)
    assert store.held(PSEUDONYM) == [] and store.keyfile.load() == {}


def test_sensitive_labels_pick_the_sensitive_category() -> None:
    labelled = {
        **REPORT,
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "ETH"}]},
    }
    assert category_of(labelled) == Category.SUBSTANCE_USE
    assert category_of(REPORT) == Category.DIAGNOSTIC_REPORT


def test_store_url_forms(tmp_path: Path) -> None:
    assert gateway_store_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert gateway_store_url(tmp_path / "x.sqlite").startswith("sqlite:///")
    with pytest.raises(InvalidInput):
        gateway_store_url("mysql://u@h/db")
