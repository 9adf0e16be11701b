"""pytest plugin: ``ape test ... -p tools.evmcov.plugin`` records EVM coverage.

Active only when ``CARELEDGER_COVERAGE_TRACE`` names the file to write (``make coverage`` sets
it); the traces are written when the session ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tools.evmcov.trace import Recorder

if TYPE_CHECKING:  # pytest loads this plugin, so it is there at run time; only the hooks' types name it
    import pytest

ENV = "CARELEDGER_COVERAGE_TRACE"
_recorder = Recorder()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(ENV):
        _recorder.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get(ENV)
    if target:
        _recorder.uninstall()
        _recorder.dump(Path(target))
