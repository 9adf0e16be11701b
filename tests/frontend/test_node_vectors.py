"""The web client's mirrors of chain rules, run under Node with ``node --test`` (no browser, no
chain): frontend/tests/vectors.test.mjs holds frontend/src/gs1.js to tests/data/gs1_expiry_vectors.json
and frontend/src/ids.js to tests/data/id_vectors.json, the files the contracts and the Python SDK
are held to (tests/provenance/test_gs1_vectors.py, tests/test_id_vectors.py)."""

from __future__ import annotations

import re
import shutil
import subprocess

from careledger._paths import project_root

ROOT = project_root()
SUITE = ROOT / "frontend" / "tests" / "vectors.test.mjs"


def test_node_runs_the_shared_vectors():
    node = shutil.which("node")
    assert node, "Node.js (>= 20, package.json engines) is needed for the web client's tests"
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(SUITE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    counts = {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail) (\d+)$", out, re.M)}
    # Every test of the file ran and passed (a file that stopped loading would count 0).
    assert counts == {"tests": 6, "pass": 6, "fail": 0}, out
