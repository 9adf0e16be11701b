"""The web client's code tables (frontend/src/codes.js) match careledger.codes bit for bit."""

from __future__ import annotations

import re

from careledger._paths import project_root
from careledger.codes import Category, Purpose, Role

SOURCE = (project_root() / "frontend" / "src" / "codes.js").read_text()


def _table(name: str) -> list[str]:
    body = re.search(rf"export const {name} = \[(.*?)\n\];", SOURCE, re.S)
    assert body, name
    return re.findall(r"\['(\w+)', '", body.group(1))


def test_category_names_follow_the_bit_indexes():
    assert _table("CATEGORIES") == [c.name for c in sorted(Category, key=int)]


def test_purpose_names_follow_the_bit_indexes():
    assert _table("PURPOSES") == [p.name for p in sorted(Purpose, key=int)]


def test_role_names_follow_the_bit_flags():
    bits = re.search(r"const ROLE_BITS = \[(.*?)\];", SOURCE)
    assert bits
    names = re.findall(r"'(\w+)'", bits.group(1))
    assert [n.upper() for n in names] == [r.name for r in sorted(Role, key=int)]
