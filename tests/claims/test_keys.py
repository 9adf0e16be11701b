"""The off-chain side of the plan's code key (#13 point 1): the key file keeps every key of a plan
(rotation) and the codes its holder knows, and reads digests back over all of them; without the
key, a public code list reads nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careledger.claims.keys import KeyStore, service_date_of
from careledger.claims.types import CodeKey
from careledger.errors import InvalidInput

OLD, NEW = CodeKey(b"\x01" * 32), CodeKey(b"\x02" * 32)
PLAN = 7


def test_reader_maps_digests_of_every_key_back(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    store.add(PLAN, OLD)
    store.add_codes(PLAN, ["cpt:99213", "CPT:70551"])
    store.add(PLAN, NEW)  # a rotation keeps the old key and the codes
    store.add_codes(PLAN, ["CPT:99213", "NDC:0002-1433-80"])
    assert store.codes(PLAN) == ["CPT:99213", "CPT:70551", "NDC:0002-1433-80"]
    reader = store.reader(PLAN)
    assert reader.label(OLD.digest(PLAN, "CPT:70551")) == "CPT:70551"  # a claim from before the rotation
    assert reader.label(NEW.digest(PLAN, "NDC:0002-1433-80")) == "NDC:0002-1433-80"
    unknown = NEW.digest(PLAN, "CPT:80053")  # a code this holder never saw: still keyed
    assert reader.code(unknown) is None and reader.label(unknown) == "keyed 0x" + unknown.hex()
    assert reader.label(NEW.digest(PLAN + 1, "CPT:99213")).startswith("keyed 0x")  # another plan's digest
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600


def test_without_the_key_a_public_list_reads_nothing(tmp_path: Path) -> None:
    public = json.loads((Path(__file__).parents[1] / "data" / "public_service_codes.json").read_text())["codes"]
    outsider = KeyStore(tmp_path / "none.json").reader(PLAN, public)  # ICD-10 entries are skipped, not fatal
    assert not outsider.has_key and outsider.table == {}
    holder = KeyStore(tmp_path / "keys.json")
    holder.add(PLAN, OLD)
    assert holder.reader(PLAN, public).label(OLD.digest(PLAN, "CPT:70551")) == "CPT:70551"


def test_key_file_of_the_first_format_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"plans": {str(PLAN): ["0x" + OLD.key.hex()]}}))
    store = KeyStore(path)
    assert store.current(PLAN) == OLD and store.codes(PLAN) == []
    store.add_codes(PLAN, ["CPT:99213"])
    assert store.keys(PLAN) == [OLD] and store.codes(PLAN) == ["CPT:99213"]


@pytest.mark.parametrize("text", ["[]", '{"plans": []}', "not json", '{"plans": {"7": ["0x12"]}}'])
def test_broken_key_file_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)
    with pytest.raises(InvalidInput):
        KeyStore(path).keys(PLAN)


def test_codes_must_be_readable_codes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        KeyStore(tmp_path / "k.json").add_codes(PLAN, ["0x" + "ab" * 32])
    with pytest.raises(InvalidInput):
        KeyStore(tmp_path / "k.json").add_codes(PLAN, ["99213"])


def test_service_date_of_a_fhir_claim() -> None:
    claim = {"resourceType": "Claim", "item": [{"sequence": 1, "servicedDate": "2026-11-20"}]}
    assert service_date_of(json.dumps(claim).encode()) == "2026-11-20"
    period = {"resourceType": "Claim", "billablePeriod": {"start": "2026-11-19T10:00:00Z"}}
    assert service_date_of(json.dumps(period).encode()) == "2026-11-19"
    assert service_date_of(b'{"resourceType": "Consent"}') is None
    assert service_date_of(b"\x00not json") is None
