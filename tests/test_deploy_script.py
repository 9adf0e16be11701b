"""``ape run deploy`` and ``careledger deploy`` share one implementation and one file format."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ape_run_deploy_writes_deployments_file(tmp_path):
    env = {**os.environ, "CARELEDGER_DEPLOYMENTS_DIR": str(tmp_path)}
    proc = subprocess.run(["ape", "run", "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "1337.json").read_text())
    assert data["chainId"] == 1337
    assert data["compiler"].startswith("0.8.28+commit.")
    record = data["contracts"]["ParticipantDirectory"]
    assert record["address"].startswith("0x")
    assert record["block"] >= 1
    assert record["abiHash"].startswith("0x")
    assert "deployed on chain 1337" in proc.stdout
    # the recovery module the registry's constructor deployed is recorded with it
    recovery, registry = data["contracts"]["ConsentRecovery"], data["contracts"]["ConsentRegistry"]
    assert recovery["block"] == registry["block"] and recovery["address"] != registry["address"]
