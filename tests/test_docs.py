"""The documents point at things that exist: every test the threat model cites is a real test,
and every item of the assurance brief's sections has a row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREAT_MODEL = ROOT / "docs" / "threat-model.md"


def _references(text: str) -> list[tuple[str, str | None]]:
    """`tests/x.py::name` and `::name` (same file as the previous reference) and bare files."""
    refs: list[tuple[str, str | None]] = []
    last_file = None
    for match in re.finditer(r"`((?:tests|tools)/[\w/]+\.py)?(?:::(\w+))?`", text):
        file, name = match.group(1), match.group(2)
        if file is None and name is None:
            continue
        file = file or last_file
        assert file is not None, f"'::{name}' without a file before it"
        refs.append((file, name))
        last_file = file
    return refs


def test_threat_model_cites_only_existing_tests():
    refs = _references(THREAT_MODEL.read_text())
    assert len(refs) > 60
    missing = []
    for file, name in refs:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name and not re.search(rf"^def {name}\b", path.read_text(), re.M):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_threat_model_has_every_fault_and_domain_section():
    text = THREAT_MODEL.read_text()
    for heading in (
        "## Every contract",
        "## Consent",
        "## Claims",
        "## Provenance (DSCSA)",
        "## Off-chain client and devnet (fault injection on anvil)",
        "## Bad input at the edges",
    ):
        assert heading in text
    for n in range(1, 7):
        assert f"| {n}. " in text, f"fault {n} of the assurance brief is not mapped"
