"""One-scan verification with a small start-up cost: the counter path.

``careledger drugs verify SCAN`` must go from process start to verdict in under a second on a
2-core machine. web3.py alone takes longer than that to import, so this path uses only the
JSON-RPC client (requests), pycryptodome's keccak and a hand-written encoding of the one call it
makes, ``verify(uint256,bytes32,uint24,bytes32,uint48,bytes32[])``. It reads the deployments file
directly and checks it against the node (chain id, then the registry's code hash, in the same
round trip as the read). The result is identical to :meth:`ProvenanceClient.verify` (tests/provenance compare them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from careledger._hash import keccak256
from careledger._paths import deployments_dir
from careledger.errors import SuiteNotDeployed
from careledger.provenance.ids import text_to_bytes32
from careledger.provenance.verdict import ZERO_ADDRESS, Verdict, VerifyResult
from careledger.rpc import RpcClient, RpcError

__all__ = ["verify_calldata", "verify_fast"]

_SELECTOR = keccak256(b"verify(uint256,bytes32,uint24,bytes32,uint48,bytes32[])")[:4]


def verify_calldata(gtin: int, lot: str, expiry: int, serial: str, index: int, proof: Sequence[bytes]) -> str:
    """ABI encoding of the verify call: five static words, the offset of the array (6 words
    of head), its length, its elements."""
    words = [
        gtin.to_bytes(32, "big"),
        text_to_bytes32(lot, "lot"),
        expiry.to_bytes(32, "big"),
        text_to_bytes32(serial),
        index.to_bytes(32, "big"),
        (6 * 32).to_bytes(32, "big"),
        len(proof).to_bytes(32, "big"),
        *proof,
    ]
    return "0x" + (_SELECTOR + b"".join(words)).hex()


def _deployment_record(rpc: RpcClient) -> dict[str, object]:
    chain_id = int(str(rpc.call("eth_chainId")), 16)
    path = deployments_dir() / f"{chain_id}.json"
    if not path.is_file():
        raise SuiteNotDeployed(
            f"no CareLedger deployment for chain {chain_id} ({path} missing); run 'careledger deploy'"
        )
    data = json.loads(path.read_text())
    try:
        record: dict[str, object] = data["contracts"]["ProvenanceRegistry"]
    except KeyError:
        raise SuiteNotDeployed(f"ProvenanceRegistry is not in {path}; run 'careledger deploy'") from None
    record["chainId"] = chain_id
    record["file"] = str(path)
    return record


def verify_fast(
    rpc_url: str, gtin: int, lot: str, expiry: int, serial: str, index: int, proof: Sequence[bytes]
) -> VerifyResult:
    rpc = RpcClient(rpc_url, timeout=10, retries=1, backoff=0.1)
    rec = _deployment_record(rpc)
    address = str(rec["address"])
    code, result = rpc.batch(
        [
            ("eth_getCode", [address, "latest"]),
            ("eth_call", [{"to": address, "data": verify_calldata(gtin, lot, expiry, serial, index, proof)}, "latest"]),
        ]
    )
    if isinstance(code, RpcError) or not code or code == "0x":
        raise SuiteNotDeployed(
            f"ProvenanceRegistry has no code at {address} on chain {rec['chainId']}: {rec['file']} was written for "
            "another chain; run 'careledger deploy' to deploy the suite here"
        )
    expected = rec.get("codeHash")
    if expected and "0x" + keccak256(bytes.fromhex(str(code)[2:])).hex() != expected:
        raise SuiteNotDeployed(
            f"the contract at {address} on chain {rec['chainId']} is not the ProvenanceRegistry {rec['file']} "
            "recorded (another chain); run 'careledger deploy' to deploy the suite here"
        )
    if isinstance(result, RpcError):
        raise result
    raw = str(result)[2:]
    verdict = Verdict(int(raw[:64], 16))
    holder = "0x" + raw[64 + 24 : 128]
    if holder == ZERO_ADDRESS:
        return VerifyResult(verdict, None, gtin, lot, expiry, serial)
    from careledger._checksum import to_checksum

    return VerifyResult(verdict, to_checksum(holder), gtin, lot, expiry, serial)
