"""`careledger consent break-glass open|co-sign|review|unreviewed` and `consent study
status|close|reopen` through the CLI on a devnet: the daily cap and the co-signature, the
patient's review, who may close and reopen a study; every refusal one line with its exit code
(careledger/errors.py: 2 bad input, 1 the chain refused)."""

from __future__ import annotations

from typing import Any

import pytest
import test_devnet_sdk as sdk
from eth_account import Account

from careledger.accounts import dev_account, dev_person

pytestmark = pytest.mark.devnet

devnet = sdk.devnet  # a devnet with the directory and the consent registry (module scope)
_cli, _client = sdk._cli, sdk._client

ENCOUNTER = "0x" + "e1" * 32
NOTE = "0x" + "0c" * 32


def _open(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], encounter: str = ENCOUNTER) -> tuple[int, Any]:
    return _cli(
        devnet, capsys, "--account", "er", "consent", "break-glass", "open", "patient",
        "--reason", "etreat", "--encounter", encounter, "--justification", NOTE,
    )  # fmt: skip


def test_break_glass_cap_co_sign_and_review(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    er = dev_account("er").address
    at_er = dev_person("patient").address_for(er)  # the patient's pseudonym for the ER
    opened = []
    for seq in (1, 2):
        code, out = _open(devnet, capsys)
        assert code == 0, out
        assert (out["patient"], out["provider"], out["seq"], out["coSigned"]) == (at_er, er, seq, False)
        opened.append(out["breakGlassId"])
    # the third of the day: refused by the chain, with what to do next
    code, out = _open(devnet, capsys)
    assert code == 1 and out["customError"] == "BreakGlassCapReached"
    assert out["args"]["openedToday"] == 2 and "break-glass co-sign" in out["error"]
    # co-signers: not the opener itself (bad input), not a pharmacy (the chain refuses)
    cosign = ("consent", "break-glass", "co-sign", "patient", "er", "--encounter", ENCOUNTER)
    code, out = _cli(devnet, capsys, "--account", "er", *cosign)
    assert code == 2 and "cannot co-sign its own" in out["error"]
    code, out = _cli(devnet, capsys, "--account", "pharmacy", *cosign)
    assert code == 1 and out["customError"] == "InvalidCoSigner"
    code, out = _cli(devnet, capsys, "--account", "regulator", *cosign)
    assert code == 0 and (out["patient"], out["cosigner"]) == (at_er, dev_account("regulator").address)
    # the co-signature is for that encounter only, and serves one opening
    code, out = _open(devnet, capsys, encounter="0x" + "e2" * 32)
    assert code == 1 and out["customError"] == "BreakGlassCapReached"
    code, out = _open(devnet, capsys)
    assert code == 0 and (out["seq"], out["coSigned"]) == (3, True)
    opened.append(out["breakGlassId"])
    code, out = _open(devnet, capsys)
    assert code == 1 and out["customError"] == "BreakGlassCapReached"
    # the patient sees all three unreviewed, reviews one
    code, rows = _cli(devnet, capsys, "--account", "patient", "consent", "break-glass", "unreviewed")
    assert code == 0 and {r["breakGlassId"] for r in rows} >= set(opened)
    code, out = _cli(devnet, capsys, "--account", "patient", "consent", "break-glass", "review", opened[0])
    assert code == 0 and out["reviewed"] is True
    code, rows = _cli(devnet, capsys, "--account", "patient", "consent", "break-glass", "unreviewed")
    assert opened[0] not in {r["breakGlassId"] for r in rows} and set(opened[1:]) <= {r["breakGlassId"] for r in rows}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--encounter", "0x" + "00" * 32, "--justification", NOTE), "encounter must not be zero"),
        (("--encounter", "0x12", "--justification", NOTE), "encounter must be a commitment"),
        (("--encounter", ENCOUNTER, "--justification", "nope"), "justification must be a commitment"),
    ],
)
def test_break_glass_open_refuses_bad_input_before_sending(
    devnet: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    before = devnet["w3"].eth.block_number
    code, out = _cli(
        devnet, capsys, "--account", "er", "consent", "break-glass", "open", "patient", "--reason", "btg", *args
    )
    assert code == 2 and message in out["error"]
    assert devnet["w3"].eth.block_number == before  # nothing sent


def test_break_glass_open_needs_a_provider_signer(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    open_ = ("consent", "break-glass", "open", "patient", "--reason", "etreat", "--encounter", ENCOUNTER)
    code, out = _cli(devnet, capsys, *open_, "--justification", NOTE)
    assert code == 2 and "needs a signer" in out["error"]
    code, out = _cli(devnet, capsys, "--account", "insurer", *open_, "--justification", NOTE)
    assert code == 1 and out["customError"]  # the directory: not an active provider


def test_study_status_close_reopen_by_who_may(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    clinic = _client(devnet, "clinic")
    study = Account.create()
    clinic.register_study(study, b"\x51" * 32)
    s = study.address
    code, out = _cli(devnet, capsys, "consent", "study", "status", s)
    assert code == 0
    assert (out["status"], out["sponsor"], out["formVersion"], out["accessOpen"]) == (
        "active",
        clinic.me,
        1,
        True,
    )
    code, out = _cli(devnet, capsys, "--account", "clinic", "consent", "study", "reopen", s)
    assert code == 0 and out["changed"] is False  # already active: nothing sent
    code, out = _cli(devnet, capsys, "--account", "lab", "consent", "study", "close", s)
    assert code == 1 and out["customError"] == "NotStudyAuthority"
    code, out = _cli(devnet, capsys, "--account", "clinic", "consent", "study", "close", s)
    assert code == 0 and (out["status"], out["changed"], out["accessOpen"]) == ("closed", True, False)
    assert clinic.study_status(s) == 2
    code, out = _cli(devnet, capsys, "--account", "clinic", "consent", "study", "reopen", s)
    assert code == 1 and out["customError"] == "NotStudyAuthority"  # a sponsor may only close
    code, out = _cli(devnet, capsys, "--account", "regulator", "consent", "study", "reopen", s)
    assert code == 0 and out["status"] == "active" and clinic.study_status(s) == 1
    code, out = _cli(devnet, capsys, "--account", "admin", "consent", "study", "close", s)  # the registrar
    assert code == 0 and out["status"] == "closed"
    code, out = _cli(devnet, capsys, "consent", "study", "status", dev_account("lab").address)
    assert code == 2 and "not a registered study" in out["error"]
    code, out = _cli(devnet, capsys, "consent", "study", "status", "0x12")
    assert code == 2
    code, out = _cli(devnet, capsys, "consent", "study", "close", s)
    assert code == 2 and "needs a signer" in out["error"]
