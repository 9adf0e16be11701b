"""Building, serving and driving the web client (``frontend/``) from Python.

Used by the browser tests (``tests/frontend``) and the web bench (``bench/frontend.py``): build
the app into a folder of its own (so a test never overwrites ``frontend/dist`` or
``frontend/src/generated``), serve it with ``vite preview`` on a free port of 127.0.0.1, and run
the Node Playwright scripts of ``frontend/tests/`` against it with Debian's chromium.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from careledger._paths import node_bin, project_root
from careledger.devnet import free_port
from careledger.errors import EnvironmentProblem

__all__ = ["CHROMIUM", "WebApp", "build_webapp", "ensure_chromium", "free_port", "run_script"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def frontend_dir() -> Path:
    return project_root() / "frontend"


def ensure_chromium() -> str:
    """The chromium executable, installing it with ``tools/setup-browser.sh`` when missing."""
    if not Path(CHROMIUM).exists():
        script = project_root() / "tools" / "setup-browser.sh"
        proc = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not Path(CHROMIUM).exists():
            raise EnvironmentProblem(f"chromium is missing and {script} failed: {proc.stderr.strip()[-300:]}")
    return CHROMIUM


def build_webapp(out: Path, *, rpc: str, env: dict[str, str] | None = None) -> Path:
    """Generate the data files and build the app into ``out/dist``; returns that folder."""
    full = {**os.environ, **(env or {})}
    full["CARELEDGER_WEB_GENERATED"] = str(out / "generated")
    full["CARELEDGER_WEB_OUT"] = str(out / "dist")
    full["CARELEDGER_RPC"] = rpc
    here = frontend_dir()
    for cmd in ([sys.executable, str(here / "generate.py")], [str(node_bin("vite")), "build", "--logLevel", "warn"]):
        proc = subprocess.run(cmd, cwd=here, env=full, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"{' '.join(cmd[-2:])} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return out / "dist"


@dataclass
class WebApp:
    """``vite preview`` of a built app; use as a context manager so the server always stops.

    ``env`` is added to the server's environment: ``CARELEDGER_RELAYER_URL`` (where ``/relayer``
    is proxied) and ``CARELEDGER_PROVENANCE_DIR`` and ``CARELEDGER_RPC`` (what the ``POST /proofs`` service reads)
    are read there."""

    dist: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _generated_env(self) -> dict[str, str]:
        """Where :func:`build_webapp` wrote the data files next to ``dist``: the proof service
        (``frontend/proof-service.mjs``) reads the proof request's types, the directory's ABI and
        the Roles table there at run time."""
        generated = self.dist.parent / "generated"
        return {"CARELEDGER_WEB_GENERATED": str(generated)} if generated.is_dir() else {}

    def start(self, timeout: float = 30.0) -> WebApp:
        self.port = self.port or free_port()
        cmd = [
            str(node_bin("vite")),
            "preview",
            "--outDir",
            str(self.dist),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--strictPort",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=frontend_dir(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **self._generated_env(), **self.env},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise EnvironmentProblem(f"vite preview exited: {err.strip()[-300:]}")
            try:
                requests.get(self.url, timeout=0.5)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise EnvironmentProblem(f"vite preview did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> WebApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_script(script: str, env: dict[str, str], timeout: float = 180.0) -> dict[str, Any]:
    """Run ``frontend/tests/<script>`` under Node; return the JSON its last ``RESULT`` line holds.

    Raises ``AssertionError`` with the script's output when it fails, so a test shows why.
    """
    full = {**os.environ, "CHROMIUM": ensure_chromium(), **env}
    path = frontend_dir() / "tests" / script
    proc = subprocess.run(
        ["node", str(path)], cwd=frontend_dir(), env=full, capture_output=True, text=True, timeout=timeout, check=False
    )
    results = [line[len("RESULT ") :] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not results:
        raise AssertionError(f"{script} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(results[-1])
    return data
