"""The CLI's shared parameter types (careledger/cli/params.py): each turns what a user typed into
the SDK's value, or stops the command with one line and exit 2 before any node is contacted;
party names follow the one devnet rule (a cast name only on a devnet, else DevnetOnly, exit 6)."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner
from web3 import EthereumTesterProvider, Web3

from careledger.accounts import dev_account
from careledger.chain import Chain, ErrorDecoder
from careledger.cli.context import AppContext
from careledger.cli.main import run
from careledger.cli.params import (
    ADDRESS,
    BATCH,
    CATEGORIES,
    CATEGORY,
    CLAIM_ID,
    PERIOD,
    PURPOSE,
    PURPOSES,
    ROLES,
    AmountType,
    Bytes32Type,
    role_names,
)
from careledger.codes import Category, Purpose, Role
from careledger.consent.terms import ALL_PURPOSES, mask
from careledger.errors import DevnetOnly
from careledger.provenance.ids import batch_id

CLINIC = dev_account("clinic").address


@pytest.fixture(scope="module")
def embedded() -> Web3:
    """A real chain in process (py-evm through eth-tester): not a devnet this project started."""
    return Web3(EthereumTesterProvider())


def _parse(param_type: click.ParamType, text: str, *, devnet: bool | None, w3: Web3 | None = None) -> Any:
    """Run a one-argument command with ``param_type`` under a careledger AppContext."""
    seen: list[Any] = []

    @click.command()
    @click.argument("value", type=param_type)
    def cmd(value: Any) -> None:
        seen.append(value)

    chain = Chain(w3, ErrorDecoder(), devnet=devnet) if w3 is not None else None
    app = AppContext(rpc="http://127.0.0.1:1", json_output=False, account=None, _chain=chain)
    result = CliRunner().invoke(cmd, [text], obj=app)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code != 0:
        return ("usage", result.exit_code, result.output.strip().splitlines()[-1])
    return seen[0]


def test_an_address_is_checksummed_without_a_node():
    assert _parse(ADDRESS, CLINIC.lower(), devnet=None) == CLINIC


@pytest.mark.parametrize("text", ["0x12", "0x" + "zz" * 20, "not-a-cast-member"])
def test_a_malformed_address_or_unknown_name_is_one_usage_line(text):
    kind, code, line = _parse(ADDRESS, text, devnet=None)
    assert (kind, code) == ("usage", 2)
    assert line.startswith("Error: Invalid value for 'VALUE'") and text in line


def test_a_cast_name_resolves_on_a_declared_devnet(embedded):
    assert _parse(ADDRESS, "clinic", devnet=True, w3=embedded) == CLINIC


def test_a_cast_name_is_refused_on_a_chain_that_is_not_a_devnet(embedded):
    # The embedded chain was not started by the project and not declared with --devnet: the
    # public test mnemonic's names mean nothing there (judged by genesis, never by chain id).
    with pytest.raises(DevnetOnly, match="devnet account names"):
        _parse(ADDRESS, "clinic", devnet=None, w3=embedded)


def test_claim_ids_and_commitments_are_32_bytes():
    raw = bytes(range(32))
    assert _parse(CLAIM_ID, "0x" + raw.hex(), devnet=None) == raw
    assert _parse(CLAIM_ID, "0x12", devnet=None)[:2] == ("usage", 2)
    commitment = Bytes32Type("encounter", commitment=True)
    assert "must not be zero" in _parse(commitment, "0x" + "00" * 32, devnet=None)[2]
    assert "encounter must be a commitment" in _parse(commitment, "nope", devnet=None)[2]


def test_a_batch_is_an_id_or_gtin_slash_lot():
    expected = batch_id(9506000134352, "LOT-A")
    assert _parse(BATCH, "09506000134352/LOT-A", devnet=None) == expected
    assert _parse(BATCH, "0x" + expected.hex(), devnet=None) == expected
    kind, code, line = _parse(BATCH, "09506000134353/LOT-A", devnet=None)  # wrong check digit
    assert (kind, code) == ("usage", 2) and "check digit" in line.lower()


@pytest.mark.parametrize(
    ("text", "units"), [("180", 180_000_000), ("180.5", 180_500_000), ("0.000001", 1), ("1e2", 100_000_000)]
)
def test_amounts_are_exact_base_units(text, units):
    assert _parse(AmountType(6), text, devnet=None) == units


@pytest.mark.parametrize("text", ["0.0000001", "-1", "0", "NaN", "Infinity", "ten", str(2**96)])
def test_amounts_with_too_many_places_or_not_positive_are_refused(text):
    assert _parse(AmountType(6), text, devnet=None)[:2] == ("usage", 2)


def test_amount_decimals_can_come_from_the_context():
    asked: list[AppContext] = []

    def decimals(app: AppContext) -> int:
        asked.append(app)
        return 2

    assert _parse(AmountType(decimals), "12.34", devnet=None) == 1234
    assert _parse(AmountType(decimals), "12.345", devnet=None)[:2] == ("usage", 2)
    assert len(asked) == 2


def test_codes_and_masks():
    assert _parse(CATEGORY, "diagnostic-report", devnet=None) is Category.DIAGNOSTIC_REPORT
    assert _parse(PURPOSE, "treat", devnet=None) is Purpose.TREAT
    assert _parse(CATEGORIES, "observation,condition", devnet=None) == mask([Category.OBSERVATION, Category.CONDITION])
    assert "unknown category" in _parse(CATEGORY, "gossip", devnet=None)[2]
    assert "unknown purpose" in _parse(PURPOSES, "treat,gossip", devnet=None)[2]
    assert _parse(PURPOSES, "all", devnet=None) == ALL_PURPOSES


def test_a_period_is_two_inclusive_days_either_open():
    since, until = _parse(PERIOD, "2028-01-01..2028-01-31", devnet=None)
    assert (
        since is not None and until is not None and until - since == 31 * 86_400
    )  # the end day included (until is exclusive)
    assert _parse(PERIOD, "2028-01-01..", devnet=None)[1] is None
    assert _parse(PERIOD, "", devnet=None) == (None, None)
    assert "ends before it starts" in _parse(PERIOD, "2028-02-01..2028-01-01", devnet=None)[2]
    assert _parse(PERIOD, "2028-01-01", devnet=None)[:2] == ("usage", 2)


def test_roles_read_and_print_back():
    roles = _parse(ROLES, "provider,relayer", devnet=None)
    assert roles == Role.PROVIDER | Role.RELAYER
    assert role_names(roles) == "provider,relayer"
    assert "unknown role" in _parse(ROLES, "wizard", devnet=None)[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["claims", "review", "0x12", "--deny"],
        ["drugs", "ship", "0xzz", "--to", CLINIC, "--quantity", "1"],
        ["consent", "check", "patient", CLINIC, "gossip", "treat"],
        ["directory", "set-roles", CLINIC, "wizard"],
    ],
)
def test_the_cli_refuses_bad_arguments_with_exit_2_before_contacting_a_node(argv, capsys):
    # --rpc names a port nothing listens on: had the command contacted the node, it would exit 3.
    assert run(["--rpc", "http://127.0.0.1:9", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Invalid value for")
