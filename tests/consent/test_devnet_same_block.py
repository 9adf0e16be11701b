"""On anvil with automine off: an access and a revocation in one block, in both orders. The log
shows the real order, and an access ordered after the revocation is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from bench.harness import BenchEnv, fresh_suite
from careledger.accounts import dev_account
from careledger.chain import Chain, ErrorDecoder
from careledger.codes import Category, Purpose
from careledger.consent.terms import GrantTerms, mask
from careledger.errors import ChainRefused

pytestmark = pytest.mark.devnet

OBS, TR = int(Category.OBSERVATION), int(Purpose.TREAT)
RECORD = bytes.fromhex("ab" * 32)
GWEI = 10**9


@pytest.fixture(scope="module")
def devnet_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchEnv]:
    with fresh_suite(Path(tmp_path_factory.mktemp("anvil")), domains=("directory", "consent")) as env:
        yield env


@pytest.fixture(scope="module")
def anvil(devnet_suite: BenchEnv) -> Chain:
    return Chain(devnet_suite.w3, ErrorDecoder.from_abis(devnet_suite.artifacts.all_abis()))


@pytest.fixture(scope="module")
def suite(anvil: Chain, devnet_suite: BenchEnv) -> dict[str, Any]:
    registry = devnet_suite.deployment.address("ConsentRegistry")
    return {"registry": anvil.contract(registry, devnet_suite.artifacts["ConsentRegistry"].abi)}


def _signed(chain: Chain, acct: LocalAccount, fn: Any, tip: int) -> bytes:
    tx = fn.build_transaction(
        {
            "from": acct.address,
            "nonce": chain.w3.eth.get_transaction_count(acct.address, "pending"),
            "gas": 300_000,
            "maxFeePerGas": 100 * GWEI,
            "maxPriorityFeePerGas": tip * GWEI,
            "chainId": chain.chain_id,
        }
    )
    return bytes(acct.sign_transaction(tx).raw_transaction)


def _mine_together(chain: Chain, raws: list[bytes]) -> list[Any]:
    w3 = chain.w3
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        hashes = [w3.eth.send_raw_transaction(raw) for raw in raws]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    return [w3.eth.get_transaction_receipt(h) for h in hashes]


def _grant(chain: Chain, registry: Any) -> int:
    patient = chain.with_account(dev_account("patient").account)
    now = chain.w3.eth.get_block("latest")["timestamp"]
    t = GrantTerms(dev_account("clinic").address, mask([Category.OBSERVATION]), mask([Purpose.TREAT]), now + 86400)
    receipt = patient.send(registry.functions.grant(patient.account.address, t.as_tuple()), "grant")
    return int(registry.events.ConsentGranted().process_receipt(receipt)[0]["args"]["consentId"])


@pytest.mark.parametrize("access_first", [True, False], ids=["access-then-revoke", "revoke-then-access"])
def test_access_and_revoke_in_one_block_log_shows_real_order(
    anvil: Chain, suite: dict[str, Any], access_first: bool
) -> None:
    registry = suite["registry"]
    cid = _grant(anvil, registry)
    patient, clinic = dev_account("patient"), dev_account("clinic")
    access = registry.functions.recordAccess(patient.address, cid, OBS, TR, RECORD)
    revoke = registry.functions.revoke(patient.address, clinic.address, cid)
    # Sent in the wanted order, the first also with the higher tip, so a FIFO and a fee-ordered
    # block builder agree on the order.
    raw_access = _signed(anvil, clinic.account, access, tip=5 if access_first else 1)
    raw_revoke = _signed(anvil, patient.account, revoke, tip=1 if access_first else 5)
    if access_first:
        r_access, r_revoke = _mine_together(anvil, [raw_access, raw_revoke])
    else:
        r_revoke, r_access = _mine_together(anvil, [raw_revoke, raw_access])
    assert r_access["blockNumber"] == r_revoke["blockNumber"]
    assert (r_access["transactionIndex"] < r_revoke["transactionIndex"]) == access_first
    assert r_revoke["status"] == 1
    block_logs = anvil.w3.eth.get_logs(
        {"address": registry.address, "fromBlock": r_access["blockNumber"], "toBlock": r_access["blockNumber"]}
    )
    decoded = [(log["logIndex"], log["transactionIndex"]) for log in block_logs]
    assert decoded == sorted(decoded)
    if access_first:
        assert r_access["status"] == 1  # the access was valid when it happened: not undone by the revocation
        assert len(block_logs) == 2
        assert registry.events.AccessRecorded().process_log(block_logs[0])["args"]["consentId"] == cid
        assert registry.events.ConsentRevoked().process_log(block_logs[1])["args"]["consentId"] == cid
    else:
        assert r_access["status"] == 0  # ordered after the revocation: refused
        assert len(block_logs) == 1
        assert registry.events.ConsentRevoked().process_log(block_logs[0])["args"]["consentId"] == cid
        # The refusal names the reason when replayed at that point.
        with pytest.raises(ChainRefused) as refused:
            anvil.with_account(clinic.account).send(access, "record access after revocation")
        assert refused.value.error_name == "NoActiveConsent"
        assert refused.value.error_args == {"patient": patient.address, "grantee": clinic.address}
