"""Connecting to a node, decoding reverts, and sending transactions signed locally.

This is the transport floor: domain clients build contract calls, this module turns them into
signed transactions and receipts, and turns every failure into a :mod:`careledger.errors` type.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
)
from web3.types import TxReceipt

from careledger.errors import ChainRefused, InvalidInput, NodeUnreachable
from careledger.exactjson import abi_value
from careledger.rpc import nudge_devnet

__all__ = ["Chain", "ErrorDecoder", "checksum", "connect"]

DEFAULT_RPC = "http://127.0.0.1:8545"


def checksum(value: str, what: str = "address") -> str:
    """A checksummed address, or :class:`InvalidInput` quoting the bad value."""
    if not isinstance(value, str) or not Web3.is_address(value):
        raise InvalidInput(f"{what} {value!r} is not an Ethereum address (0x + 40 hex digits)")
    return to_checksum_address(value)


def _type_string(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param.get("components", []))
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


@dataclass
class ErrorDecoder:
    """Maps 4-byte selectors of every custom error in the build to names and argument names."""

    _errors: dict[bytes, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    @classmethod
    def from_abis(cls, abis: Iterable[list[dict[str, Any]]]) -> ErrorDecoder:
        dec = cls()
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_type_string(p) for p in item.get("inputs", [])]
                names = [p.get("name") or f"arg{i}" for i, p in enumerate(item.get("inputs", []))]
                sig = f"{item['name']}({','.join(types)})"
                dec._errors[keccak(text=sig)[:4]] = (item["name"], types, names)
        dec._errors[keccak(text="Error(string)")[:4]] = ("Error", ["string"], ["message"])
        dec._errors[keccak(text="Panic(uint256)")[:4]] = ("Panic", ["uint256"], ["code"])
        return dec

    def decode(self, data: str | bytes | None) -> tuple[str | None, dict[str, Any]]:
        if data is None:
            return None, {}
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        if len(raw) < 4 or raw[:4] not in self._errors:
            return None, {}
        name, types, names = self._errors[raw[:4]]
        try:
            values = abi_decode(types, raw[4:])
        except Exception:  # noqa: BLE001 - undecodable payload: report the name only
            return name, {}
        # In their exact JSON form (careledger.exactjson): ids 0x-hex, wide integers decimal strings.
        return name, {n: abi_value(t, v, n) for n, t, v in zip(names, types, values, strict=True)}

    def refusal(self, data: str | bytes | None, what: str, tx_hash: str | None = None) -> ChainRefused:
        name, args = self.decode(data)
        if name is None:
            return ChainRefused(f"{what} was refused by the chain (no reason given)", tx_hash=tx_hash)
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        return ChainRefused(f"{what} refused: {name}({shown})", error_name=name, error_args=args, tx_hash=tx_hash)


def connect(rpc: str = DEFAULT_RPC, timeout: float = 10.0) -> Web3:
    """A Web3 connected to ``rpc``, or :class:`NodeUnreachable` naming the URL and the cause."""
    if not rpc.startswith(("http://", "https://")):
        raise InvalidInput(f"RPC URL {rpc!r} must start with http:// or https://")
    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - the probe
    except requests.exceptions.ConnectionError:
        raise NodeUnreachable(
            f"no node answers at {rpc} (connection refused); is the devnet up? try 'make up'"
        ) from None
    except requests.exceptions.Timeout:
        raise NodeUnreachable(f"the node at {rpc} did not answer within {timeout:.0f} s") from None
    except Exception as exc:  # noqa: BLE001 - anything else means "not an Ethereum node"
        raise NodeUnreachable(f"{rpc} does not answer as an Ethereum JSON-RPC node ({type(exc).__name__})") from None
    return w3


class Chain:
    """A connected node plus a decoder and (optionally) a local signing key.

    ``send`` estimates first, so a refusal is reported with its decoded custom error before any
    transaction is signed, and leaves nothing half-written.
    """

    def __init__(self, w3: Web3, decoder: ErrorDecoder, account: LocalAccount | None = None) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.account = account
        self.chain_id: int = w3.eth.chain_id
        self.receipt_poll = 0.005

    def with_account(self, account: LocalAccount | str) -> Chain:
        acct = Account.from_key(account) if isinstance(account, str) else account
        return Chain(self.w3, self.decoder, acct)

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    # ------------------------------------------------------------------ reads

    def call(self, fn: ContractFunction, what: str, block: Any = "latest") -> Any:
        try:
            return fn.call(block_identifier=block)
        except ContractCustomError as exc:
            raise self.decoder.refusal(_revert_data(exc), what) from None
        except (ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.refusal(_revert_data(exc), what) from None
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during {what}: {type(exc).__name__}") from None

    # ------------------------------------------------------------------ writes

    def _require_account(self) -> LocalAccount:
        if self.account is None:
            raise InvalidInput("this action needs a signing account (--account or CARELEDGER_PRIVATE_KEY)")
        return self.account

    def send(self, fn: ContractFunction, what: str, value: int = 0, gas: int | None = None) -> TxReceipt:
        acct = self._require_account()
        params: dict[str, Any] = {
            "from": acct.address,
            "chainId": self.chain_id,
            "value": value,
            "nonce": self.w3.eth.get_transaction_count(acct.address, "pending"),
        }
        try:
            if gas is not None:
                params["gas"] = gas
            tx = fn.build_transaction(params)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.refusal(_revert_data(exc), what) from None
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during {what}: {type(exc).__name__}") from None
        return self._sign_and_wait(tx, what)

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, args: list[Any], what: str) -> TxReceipt:
        acct = self._require_account()
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        try:
            tx = factory.constructor(*args).build_transaction(
                {
                    "from": acct.address,
                    "chainId": self.chain_id,
                    "nonce": self.w3.eth.get_transaction_count(acct.address, "pending"),
                }
            )
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.refusal(_revert_data(exc), what) from None
        return self._sign_and_wait(tx, what)

    def _sign_and_wait(self, tx: Any, what: str) -> TxReceipt:
        acct = self._require_account()
        signed = acct.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.wait(tx_hash.to_0x_hex(), what)
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during {what}: {type(exc).__name__}") from None
        if receipt["status"] != 1:
            # Replay the call at the block before to recover the revert data.
            data = self._replay_revert(tx, receipt["blockNumber"])
            raise self.decoder.refusal(data, what, tx_hash=tx_hash.to_0x_hex())
        return receipt

    def wait(self, tx_hash: str, what: str, timeout: float = 60.0) -> TxReceipt:
        """Wait for a receipt, polling fast at first and backing off (no fixed 0.1 s sleep)."""
        deadline = time.monotonic() + timeout
        delay = self.receipt_poll
        nudge_at = time.monotonic() + 2.0
        while True:
            receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash)) if self._has_receipt(tx_hash) else None
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise TimeExhausted(f"{what}: no receipt for {tx_hash} after {timeout:.0f} s")
            if time.monotonic() > nudge_at:  # a stalled local automine (see rpc.nudge_devnet)
                nudge_devnet(self._raw_call, self.chain_id)
                nudge_at = time.monotonic() + 2.0
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _raw_call(self, method: str, params: list[Any]) -> Any:
        return self.w3.provider.make_request(method, params).get("result")  # type: ignore[arg-type]

    def _has_receipt(self, tx_hash: str) -> bool:
        resp = self.w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])  # type: ignore[arg-type]
        return bool(resp.get("result"))

    def _replay_revert(self, tx: Any, block: int) -> str | None:
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call, block_identifier=max(block - 1, 0))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            return _revert_data(exc)
        return None


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(data, dict):
        inner = data.get("data")
        return inner if isinstance(inner, str) else None
    return None
