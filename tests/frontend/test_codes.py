"""The web client's code tables come from the build (frontend/generate.py writes codes.json with
careledger.abi, frontend/src/codes.js imports it): they match careledger.codes bit for bit, and
every code and enum member the page shows by number has its words in the page's source."""

from __future__ import annotations

import re
import sys

from careledger._paths import project_root
from careledger.claims.types import ClaimStatus, Decision
from careledger.codes import Category, Purpose, Role
from careledger.provenance.client import BatchStatus
from careledger.provenance.verdict import Verdict

SRC = project_root() / "frontend" / "src"
sys.path.insert(0, str(project_root() / "frontend"))
import generate  # noqa: E402  (frontend/generate.py, not a package)

CODES = generate.codes()


def _labels(source: str, name: str) -> set[str]:
    body = re.search(rf"const {name} = \{{(.*?)\n\}};", source, re.S)
    assert body, name
    return set(re.findall(r"(\w+): '", body.group(1)))


def test_code_tables_are_the_sdks() -> None:
    tables = CODES["tables"]
    assert tables["Category"] == {c.name: int(c) for c in Category} | {"COUNT": len(Category)}
    assert tables["Purpose"] == {p.name: int(p) for p in Purpose} | {"COUNT": len(Purpose)}
    assert {k: v for k, v in tables["Roles"].items() if k != "ALL"} == {r.name: int(r) for r in Role}


def test_enums_are_the_sdks() -> None:
    def spelled(names: list[str]) -> list[str]:
        return [n.replace("_", "").upper() for n in names]

    for short, python in (("ClaimStatus", ClaimStatus), ("Decision", Decision), ("BatchStatus", BatchStatus)):
        assert spelled(CODES["enums"][short]) == spelled([m.name for m in sorted(python, key=int)])
    assert spelled(CODES["enums"]["Verdict"]) == spelled([m.name for m in sorted(Verdict, key=int)])


def test_every_code_the_page_shows_has_words() -> None:
    codes_js = (SRC / "codes.js").read_text()
    assert "from '@generated/codes.json'" in codes_js
    assert _labels(codes_js, "CATEGORY_LABELS") == {c.name for c in Category}
    assert _labels(codes_js, "PURPOSE_LABELS") == {p.name for p in Purpose}
    insurer = (SRC / "views" / "insurer.js").read_text()
    assert _labels(insurer, "STATUS_WORDS") == set(CODES["enums"]["ClaimStatus"])
    provenance = (SRC / "provenance.js").read_text()
    assert _labels(provenance, "DSCSA_WORDS") == set(CODES["enums"]["Verdict"])


def test_no_hand_copied_table_is_left() -> None:
    """The order and values of codes live in the build only: no array of code names in the page."""
    for path in SRC.rglob("*.js"):
        if "generated" in path.parts:
            continue
        text = path.read_text()
        assert not re.search(r"\[\s*'(TREAT|PATIENT|provider|Verified|None)',", text), path
