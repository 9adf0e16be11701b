"""docs/architecture.md matches the code: its module map lists exactly the package's modules (as
tools/module_map.py generates it), every module path the doc names exists, and no import runs back
up the layers faces → domain → transport → primitives."""

from __future__ import annotations

import re
from pathlib import Path

from tools import module_map

ROOT = Path(__file__).resolve().parents[1]


def test_module_map_is_current():
    text = module_map.DOC.read_text()
    section = module_map.current_section(text)
    assert section is not None, "docs/architecture.md lost its module map markers"
    assert section == module_map.render(module_map.modules()), (
        "docs/architecture.md's module map is stale: run `python tools/module_map.py --write`"
    )


def test_every_module_the_doc_names_exists():
    text = module_map.DOC.read_text()
    names = {m.name for m in module_map.modules()}
    missing = []
    for path in re.findall(r"`(careledger/[\w/]+\.py)`", text):
        if not (ROOT / path).exists():
            missing.append(path)
    for dotted in re.findall(r"`(careledger(?:\.\w+)+)", text):
        # a module, or an attribute of one (careledger.provenance.gs1.expiry_after)
        if dotted not in names and dotted.rsplit(".", 1)[0] not in names:
            missing.append(dotted)
    assert missing == []


def test_imports_only_point_down_the_layers():
    assert module_map.upward_imports(module_map.modules()) == []


def test_a_planted_upward_import_is_caught():
    mods = module_map.modules()
    errors = next(m for m in mods if m.name == "careledger.errors")
    planted = module_map.Module(errors.name, errors.path, errors.summary, errors.imports | {"careledger.chain"})
    others = [m for m in mods if m.name != "careledger.errors"]
    assert module_map.upward_imports([*others, planted]) == [
        "careledger.errors (primitives) imports careledger.chain (transport)"
    ]
