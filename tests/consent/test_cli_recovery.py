"""`careledger consent recovery ...` on a devnet: guardians appointed by address (their own
pseudonyms for the ward), approvals passed as files, a hostile-looking recovery cancelled by the
real key, the honest one executed after the delay and the consents moved to the new seed's
pseudonym; every refusal one line with its exit code (2 bad input, 1 the chain refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import test_devnet_sdk as sdk

from careledger.accounts import PersonIdentity, dev_account, dev_person
from careledger.codes import Category, Purpose

pytestmark = pytest.mark.devnet

devnet = sdk.devnet
_cli, _client = sdk._cli, sdk._client

GUARDIAN_SEED = "legal winner thank year wave sausage worth useful legal winner thank yellow"
NEW_SEED = "letter advice cage absurd amount doctor acoustic avoid letter advice cage above"


def _ok(result: tuple[int, Any]) -> Any:
    code, out = result
    assert code == 0, out
    return out


def _approve(devnet: dict[str, Any], capsys: Any, monkeypatch: Any, tmp: Path, ward: str, successor: str) -> list[Path]:
    """Both guardians approve (one a devnet person, one from its own mnemonic); the files."""
    deadline = int(devnet["w3"].eth.get_block("latest")["timestamp"]) + 3600
    cmd = ("consent", "recovery", "approve", ward, successor, "--deadline", str(deadline))
    first = _ok(_cli(devnet, capsys, *cmd, "--person", "patient2"))
    monkeypatch.setenv("CARELEDGER_PATIENT_MNEMONIC", GUARDIAN_SEED)
    second = _ok(_cli(devnet, capsys, *cmd))
    monkeypatch.delenv("CARELEDGER_PATIENT_MNEMONIC")
    paths = []
    for i, approval in enumerate((first, second)):
        path = tmp / f"approval-{i}-{approval['deadline']}.json"
        path.write_text(json.dumps(approval))
        paths.append(path)
    return paths


def test_cli_recovery_cancel_execute_move(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clinic = dev_account("clinic").address
    ward = dev_person("patient").address_for(clinic)
    _ok(_cli(devnet, capsys, "--account", "patient", "consent", "grant", "clinic",
             "--categories", "observation", "--purposes", "treat", "--days", "30"))  # fmt: skip
    # the guardians give the ward their own pseudonym for it
    g1 = _ok(_cli(devnet, capsys, "consent", "recovery", "guardian-address", ward, "--person", "patient2"))["guardian"]
    monkeypatch.setenv("CARELEDGER_PATIENT_MNEMONIC", GUARDIAN_SEED)
    g2 = _ok(_cli(devnet, capsys, "consent", "recovery", "guardian-address", ward))["guardian"]
    monkeypatch.delenv("CARELEDGER_PATIENT_MNEMONIC")
    assert g2 == PersonIdentity(GUARDIAN_SEED).address_for(ward) != g1
    plan = tmp_path / "plan.json"
    setup = ("consent", "recovery", "set-guardians", "clinic", "--guardian", g1, "--guardian", g2,
             "--delay-days", "2", "--plan", str(plan), "--person", "patient")  # fmt: skip
    code, out = _cli(devnet, capsys, *setup, "--threshold", "1")
    assert code == 2 and "at least 2" in out["error"] and not plan.exists()
    out = _ok(_cli(devnet, capsys, *setup, "--threshold", "2"))
    assert out["patient"] == ward and out["threshold"] == 2
    saved = json.loads(plan.read_text())["pseudonyms"]
    assert [(e["counterparty"], e["pseudonym"]) for e in saved] == [(clinic, ward)]

    successor = PersonIdentity(NEW_SEED).address_for(clinic)
    approvals = _approve(devnet, capsys, monkeypatch, tmp_path, ward, successor)
    start = ("consent", "recovery", "start", "clinic", "--plan", str(plan))
    code, out = _cli(devnet, capsys, *start, "--approval", str(approvals[0]))
    assert code == 2 and "needs 2" in out["error"]  # one guardian alone: refused before sending
    out = _ok(_cli(devnet, capsys, *start, "--approval", str(approvals[0]), "--approval", str(approvals[1])))
    assert (out["successor"], out["approvals"]) == (successor, 2)
    # the real key cancels; the approvals are void, and there is nothing to execute
    _ok(_cli(devnet, capsys, "consent", "recovery", "cancel", "clinic", "--person", "patient"))
    code, out = _cli(devnet, capsys, *start, "--approval", str(approvals[0]), "--approval", str(approvals[1]))
    assert code == 1 and out["customError"] == "InvalidSignature"
    code, out = _cli(devnet, capsys, "consent", "recovery", "execute", ward)
    assert code == 1 and out["customError"] == "NoRecoveryPending"

    # the honest recovery: fresh approvals, the delay, execution, the move
    approvals = _approve(devnet, capsys, monkeypatch, tmp_path, ward, successor)
    _ok(_cli(devnet, capsys, *start, "--approval", str(approvals[0]), "--approval", str(approvals[1])))
    code, out = _cli(devnet, capsys, "consent", "recovery", "execute", ward)
    assert code == 1 and out["customError"] == "RecoveryNotReady"
    devnet["w3"].provider.make_request("evm_increaseTime", [2 * 86_400])
    devnet["w3"].provider.make_request("evm_mine", [])
    assert _ok(_cli(devnet, capsys, "consent", "recovery", "execute", ward))["successor"] == successor
    monkeypatch.setenv("CARELEDGER_NEW_MNEMONIC", NEW_SEED)
    code, out = _cli(devnet, capsys, "consent", "recovery", "move", "--plan", str(plan))
    assert code == 2 and "COUNTERPARTY or --all" in out["error"]
    out = _ok(_cli(devnet, capsys, "consent", "recovery", "move", "--all", "--plan", str(plan)))
    assert [(o["counterparty"], o["successor"]) for o in out] == [(clinic, successor)]
    assert [m["grantee"] for m in out[0]["moved"]] == [clinic]
    out = _ok(_cli(devnet, capsys, "consent", "recovery", "move", "clinic", "--plan", str(plan)))
    assert out["successor"] == successor and out["moved"] == []  # nothing left to move
    status = _ok(_cli(devnet, capsys, "consent", "recovery", "status", ward))
    assert status["retired"] and status["successor"] == successor and status["pending"] is None
    reg = _client(devnet, "clinic")
    assert reg.can_access(successor, clinic, Category.OBSERVATION, Purpose.TREAT)[0]
    assert not reg.can_access(ward, clinic, Category.OBSERVATION, Purpose.TREAT)[0]
