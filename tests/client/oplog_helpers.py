"""Operations against the OpLog test contract, and what the chain says about them."""

from __future__ import annotations

from eth_utils.crypto import keccak

from careledger.rpc import RpcClient
from careledger.sender import Operation


def record_ops(oplog: str, prefix: str, n: int, gas: int | None = 80_000) -> list[Operation]:
    """n operations, each recording its own id in OpLog (a doubled one would revert)."""
    selector = keccak(text="record(bytes32)")[:4].hex()
    ops = []
    for i in range(n):
        op_id = f"{prefix}-{i}"
        ops.append(Operation(op_id, oplog, "0x" + selector + keccak(text=op_id).hex(), gas=gas))
    return ops


def op_count(rpc: RpcClient, oplog: str) -> int:
    return int(rpc.call("eth_call", [{"to": oplog, "data": "0x" + keccak(text="count()")[:4].hex()}, "latest"]), 16)


def recorded_events(rpc: RpcClient, oplog: str) -> list[str]:
    logs = rpc.call(
        "eth_getLogs",
        [
            {
                "address": oplog,
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": ["0x" + keccak(text="Recorded(bytes32,uint256)").hex()],
            }
        ],
    )
    return [log["topics"][1] for log in logs]
