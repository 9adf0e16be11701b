"""Running the consent relayer (``careledger relay serve``) and the index API (``careledger index
serve``) for the browser tests and the relayer bench: real processes, on a free port of 127.0.0.1, stopped when the
``with`` block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import requests

from careledger.errors import EnvironmentProblem

__all__ = ["serve_index", "serve_relayer"]


@contextmanager
def serve_relayer(rpc: str, url: str, timeout: float = 30.0, extra: Sequence[str] = ()) -> Iterator[str]:
    """``careledger --rpc RPC relay serve --port PORT`` signing as the devnet relayer (plus
    ``extra`` options); yields ``url``.

    The deployments folder comes from the environment (``CARELEDGER_DEPLOYMENTS_DIR``)."""
    port = url.rsplit(":", 1)[1]
    args = ["--rpc", rpc, "--account", "relayer", "relay", "serve", "--port", port, "--rate", "1000", *extra]
    with _serve(args, url, "careledger relay serve", timeout) as served:
        yield served


@contextmanager
def serve_index(rpc: str, url: str, db: str, timeout: float = 30.0) -> Iterator[str]:
    """``careledger --rpc RPC index serve --port PORT --db DB``; yields ``url``."""
    port = url.rsplit(":", 1)[1]
    with _serve(
        ["--rpc", rpc, "index", "serve", "--port", port, "--db", db], url, "careledger index serve", timeout
    ) as u:
        yield u


@contextmanager
def _serve(args: list[str], url: str, what: str, timeout: float) -> Iterator[str]:
    cli = "from careledger.cli.main import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", cli, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise EnvironmentProblem(f"{what} exited: {err.strip()[-400:]}")
            try:
                if requests.get(f"{url}/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"{what} did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
