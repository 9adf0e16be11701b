"""A throwaway PostgreSQL cluster for the tests that need a real server (the index and the
record gateway): tools/postgres.py (Debian's package, installed when missing) starts it in a
fresh folder; where none can be had the test skips, saying why."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from careledger._paths import project_root


def postgres_tool() -> Any:
    spec = importlib.util.spec_from_file_location("careledger_tools_postgres", project_root() / "tools" / "postgres.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def cluster(prefix: str, needed_by: str) -> Iterator[str]:
    """The URL of a cluster running for the block's duration, or a skip naming ``needed_by``."""
    tool = postgres_tool()
    # Not under pytest's tmp folder: that is private to this user, and as root the server runs
    # as the postgres user, who must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        url = tool.start(folder)
    except tool.Unavailable as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no PostgreSQL for {needed_by}: {exc}")
    try:
        yield url
    finally:
        tool.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
