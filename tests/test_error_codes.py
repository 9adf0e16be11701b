"""One exception tree owns the exit codes: every CareLedgerError subclass in the package is in
the table of careledger/errors.py's docstring and of docs/architecture.md, with its exit code."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import careledger
from careledger import errors
from careledger.errors import CareLedgerError

ROOT = Path(__file__).resolve().parent.parent


def _all_error_classes() -> set[type[CareLedgerError]]:
    for mod in pkgutil.walk_packages(careledger.__path__, "careledger."):
        if not mod.name.endswith("__main__"):  # running the CLI is not importing it
            importlib.import_module(mod.name)
    found: set[type[CareLedgerError]] = set()
    todo: list[type[CareLedgerError]] = [CareLedgerError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("careledger.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_every_error_class_has_its_exit_code_in_both_tables():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    table = doc[doc.index("## Exit codes") :]
    docstring = errors.__doc__ or ""
    missing = []
    classes = _all_error_classes()
    assert len(classes) >= 15
    for cls in sorted(classes, key=lambda c: c.__name__):
        name, code = cls.__name__, cls.exit_code
        if not re.search(rf"^\| {code} \| `{name}` \|", table, re.M):
            missing.append(f"docs/architecture.md: {code} {name}")
        if not re.search(rf"^{code}\s+(:class:)?`+(\w+\.)?{name}`+", docstring, re.M):
            missing.append(f"careledger/errors.py: {code} {name}")
    assert missing == []


def test_exit_codes_are_distinct_per_meaning():
    # 70 is the CLI's "a bug" and 130 "interrupted": no error class may take them.
    codes = {cls.exit_code for cls in _all_error_classes()}
    assert codes <= set(range(1, 10))
