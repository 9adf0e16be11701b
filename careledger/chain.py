"""Connecting to a node, decoding reverts, and sending transactions signed locally.

This is the transport floor: domain clients build contract calls, this module turns them into
signed transactions and receipts, and turns every failure into a :mod:`careledger.errors` type.

Failures of the wire are mapped where requests leave the SDK, in the HTTP provider
(:class:`CareLedgerProvider`), so a direct ``w3.eth`` read anywhere in the SDK fails the same way:

- connection refused or reset, read timeout → :class:`~careledger.errors.NodeUnreachable`;
- HTTP 5xx or 429 (after bounded retries), a body that is not a JSON-RPC reply, a JSON-RPC error
  for a request a healthy node always answers → :class:`~careledger.errors.NodeFailed`;
- the node refusing a signed transaction (nonce, fee, funds) →
  :class:`~careledger.errors.TransactionRejected`; no answer once a transaction has left →
  :class:`~careledger.errors.TransactionPending` (with its hash: it may still be mined);
- a chain id other than the one first seen → :class:`~careledger.errors.ChainChanged`.

Errors of ``eth_call`` and ``eth_estimateGas`` are left to web3, which turns reverts into the
exceptions :class:`Chain` decodes into :class:`~careledger.errors.ChainRefused`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3RPCError,
)
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from careledger.abi import ErrorDecoder
from careledger.errors import (
    CareLedgerError,
    ChainChanged,
    InvalidInput,
    NodeFailed,
    NodeUnreachable,
    RpcError,
    SendIncomplete,
    TransactionPending,
    TransactionRejected,
)
from careledger.journal import Journal
from careledger.rpc import (
    CONNECTION_REFUSED,
    DEFAULT_RPC_TIMEOUT,
    GAS_MARGIN_PCT,
    NodeHook,
    connection_cause,
    env_seconds,
    receipt_timeout_default,
)
from careledger.sender import Operation, Sender

__all__ = ["CareLedgerProvider", "Chain", "ErrorDecoder", "Web3Node", "checksum", "connect"]

DEFAULT_RPC = "http://127.0.0.1:8545"
# Requests whose JSON-RPC errors web3 itself interprets: reverts (decoded into ChainRefused by
# Chain) and the priority-fee method web3 falls back from.
_WEB3_HANDLES_ERRORS = frozenset({"eth_call", "eth_estimateGas", "eth_maxPriorityFeePerGas"})
# A send the node already has (our own bytes, e.g. on a retry): it is on its way, not refused.
_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "transaction already exists")


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def checksum(value: str, what: str = "address") -> str:
    """A checksummed address, or :class:`InvalidInput` quoting the bad value."""
    if not isinstance(value, str) or not Web3.is_address(value):
        raise InvalidInput(f"{what} {value!r} is not an Ethereum address (0x + 40 hex digits)")
    return to_checksum_address(value)


class CareLedgerProvider(HTTPProvider):
    """web3's HTTP provider whose every failure is a :mod:`careledger.errors` type (see the
    module docstring). Reads are retried a bounded number of times on a refused or reset
    connection, a timeout, HTTP 5xx or 429; a transaction is never re-sent here."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(
            url,
            request_kwargs={"timeout": timeout},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=(requests.ConnectionError, requests.Timeout, requests.HTTPError), retries=3, backoff_factor=0.2
            ),
        )
        self.url = url
        self.timeout = timeout
        self.first_chain_id: int | None = None

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            response = super().make_request(method, params)
        except requests.RequestException as exc:
            raise self._transport_error(method, params, exc) from None
        except ValueError:  # not JSON, or not UTF-8: a proxy's error page, a web server, ...
            raise NodeFailed(f"{self.url} answered {method} with something that is not JSON-RPC") from None
        if not isinstance(response, dict) or ("result" not in response and "error" not in response):
            raise NodeFailed(f"{self.url} answered {method} with a malformed JSON-RPC reply")
        if "error" in response:
            return self._node_error(method, params, response)
        if method == "eth_chainId":
            self._check_chain_id(response.get("result"))
        return response

    def _transport_error(self, method: str, params: Any, exc: requests.RequestException) -> CareLedgerError:
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            cause = "rate-limited (HTTP 429)" if status == 429 else f"HTTP {status} {exc.response.reason or ''}".strip()
            failure: CareLedgerError = NodeFailed(f"{self.url} answered {method} with {cause}")
        elif isinstance(exc, requests.Timeout):
            failure = NodeUnreachable(f"the node at {self.url} did not answer {method} within {self.timeout:g} s")
        elif connection_cause(exc) == CONNECTION_REFUSED:
            # Nothing reached the node, not even a transaction.
            return NodeUnreachable(
                f"no node answers at {self.url} (connection refused); is the devnet up? try 'make up'"
            )
        else:
            failure = NodeUnreachable(f"the connection to {self.url} failed during {method} ({connection_cause(exc)})")
        if method == "eth_sendRawTransaction":
            tx_hash = _raw_tx_hash(params)
            return TransactionPending(
                f"transaction {tx_hash} was handed to {self.url} but no answer came back ({failure}); it may still "
                "be mined: look it up before sending again",
                tx_hash=tx_hash,
            )
        return failure

    def _node_error(self, method: str, params: Any, response: RPCResponse) -> RPCResponse:
        message = _error_message(response.get("error"))
        if method in _WEB3_HANDLES_ERRORS:
            return response
        if method == "eth_sendRawTransaction":
            tx_hash = _raw_tx_hash(params)
            if any(k in message.lower() for k in _ALREADY_KNOWN):
                return cast(RPCResponse, {"jsonrpc": "2.0", "id": response.get("id", 0), "result": tx_hash})
            self._check_chain_id(self._ask_chain_id())
            raise TransactionRejected(
                f"the node refused transaction {tx_hash}: {message}", tx_hash=tx_hash, reason=message
            )
        raise NodeFailed(f"{self.url} answered {method} with an error: {message}")

    def _ask_chain_id(self) -> Any:
        try:
            return super().make_request(RPCEndpoint("eth_chainId"), []).get("result")
        except (requests.RequestException, ValueError, AttributeError):
            return None

    def _check_chain_id(self, result: Any) -> None:
        try:
            chain_id = int(str(result), 16)
        except ValueError:
            return
        if self.first_chain_id is None:
            self.first_chain_id = chain_id
        elif chain_id != self.first_chain_id:
            raise ChainChanged(
                f"the node at {self.url} is now chain {chain_id}, not chain {self.first_chain_id}: nothing more is sent"
            )


def _raw_tx_hash(params: Any) -> str:
    raw = params[0] if isinstance(params, list | tuple) and params else ""
    data = bytes(raw) if isinstance(raw, bytes | bytearray) else bytes.fromhex(str(raw).removeprefix("0x"))
    return "0x" + keccak(data).hex()


def connect(rpc: str = DEFAULT_RPC, timeout: float | None = None) -> Web3:
    """A Web3 connected to ``rpc``, or :class:`NodeUnreachable` naming the URL and the cause.
    ``timeout`` (seconds per request) defaults to ``$CARELEDGER_RPC_TIMEOUT``, else 10."""
    if not rpc.startswith(("http://", "https://")):
        raise InvalidInput(f"RPC URL {rpc!r} must start with http:// or https://")
    timeout = timeout if timeout is not None else env_seconds("CARELEDGER_RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT)
    w3 = Web3(CareLedgerProvider(rpc, timeout))
    try:
        w3.eth.chain_id  # noqa: B018 - the probe
    except CareLedgerError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else means "not an Ethereum node"
        raise NodeFailed(f"{rpc} does not answer as an Ethereum JSON-RPC node ({type(exc).__name__})") from None
    return w3


class Web3Node:
    """A web3 provider as a :class:`careledger.rpc.Node`, so that :class:`Chain` sends through the
    one send path (:mod:`careledger.sender`) over the connection it already has, with the
    provider's failure mapping (:class:`CareLedgerProvider`). Requests go one at a time (a
    provider batch would bypass that mapping); a :class:`Chain` sends one transaction at a time."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        uri = getattr(w3.provider, "endpoint_uri", None)
        self.url = str(uri or type(w3.provider).__name__)
        # A node over HTTP answers in JSON-RPC's wire form; an in-process one (eth-tester) only
        # through its provider's own middleware, which web3's request function applies.
        self._request: Any = (
            w3.provider.make_request if uri else (lambda method, params: w3.manager._make_request(method, params))
        )

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        try:
            response = self._request(RPCEndpoint(method), list(params))
        except TransactionRejected as exc:  # the provider's refusal of a send: the node's words
            raise RpcError(exc.reason or exc.message) from None
        except requests.exceptions.RequestException as exc:  # a provider that does not map failures
            if method == "eth_sendRawTransaction":
                tx_hash = _raw_tx_hash(params)
                raise TransactionPending(
                    f"transaction {tx_hash} may have been sent, the node stopped answering ({type(exc).__name__}); "
                    "look it up before sending again",
                    tx_hash=tx_hash,
                ) from None
            raise NodeUnreachable(f"node stopped answering {method}: {type(exc).__name__}") from None
        if "error" in response:
            error = response["error"]
            code = error.get("code", 0) if isinstance(error, dict) else 0
            raise RpcError(_error_message(error), int(code) if isinstance(code, int) else 0)
        return _hex_quantities(response.get("result"))

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]], *, chunk: int = 500) -> list[Any]:
        out: list[Any] = []
        for method, params in requests_:
            try:
                out.append(self.call(method, params))
            except RpcError as exc:
                out.append(exc)
        return out


def _hex_quantities(value: Any) -> Any:
    """A result in JSON-RPC's wire form: an in-process provider (eth-tester) may answer integers
    and bytes where a node answers hex strings."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: _hex_quantities(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hex_quantities(v) for v in value]
    return value


class _DeferredHook(NodeHook):
    """A chain's hook, resolved when first needed (asking whether the chain is a devnet costs a read)."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain

    def stalled(self, call: Any) -> bool:
        return self._chain.node_hook().stalled(call)

    def wedged(self, call: Any, address: str) -> bool:
        return self._chain.node_hook().wedged(call, address)


_SENDERS_LOCK = threading.Lock()


class Chain:
    """A connected node plus a decoder and (optionally) a local signing key.

    ``send`` and ``deploy`` estimate first, so a refusal is reported with its decoded custom
    error before any transaction is signed, and leaves nothing half-written. Then they hand the
    transaction to the key's :class:`careledger.sender.Sender` (one per key and connection):
    one nonce authority per key, shared with every other sender of that key on the machine.
    ``journal``: where those sends are journalled (default: a journal that lives as long as the
    process; give a path to keep them across a crash). ``hook``: a
    :class:`~careledger.rpc.NodeHook` (default: :func:`careledger.devchain.node_hook`).
    """

    def __init__(
        self,
        w3: Web3,
        decoder: ErrorDecoder,
        account: LocalAccount | None = None,
        *,
        devnet: bool | None = None,
        journal: Path | None = None,
        hook: NodeHook | None = None,
    ) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.account = account
        self.chain_id: int = w3.eth.chain_id
        self.receipt_poll = 0.005
        self.receipt_timeout = receipt_timeout_default()
        # True: declared a devnet (--devnet); None: ask careledger.devchain when first needed.
        self._devnet = devnet
        self._journal = journal
        self._hook = hook

    def with_account(self, account: LocalAccount | str) -> Chain:
        acct = Account.from_key(account) if isinstance(account, str) else account
        chain = Chain(self.w3, self.decoder, acct, devnet=self._devnet, journal=self._journal, hook=self._hook)
        chain.receipt_timeout = self.receipt_timeout
        return chain

    def is_devnet(self) -> bool:
        """Whether this chain is a throwaway local devnet (declared, or one the project started:
        :func:`careledger.devchain.recognise`), never judged by chain id."""
        if self._devnet is None:
            from careledger.devchain import recognise

            self._devnet = recognise(self.w3)
        return self._devnet

    def node_hook(self) -> NodeHook:
        """The hook the send path calls when something looks stuck: the one given, else the
        devnet's own on a devnet (:func:`careledger.devchain.node_hook`), else one that does nothing."""
        if self._hook is None:
            from careledger.devchain import node_hook

            self._hook = node_hook(self.is_devnet())
        return self._hook

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
        except Web3RPCError as exc:  # an error that is not a revert: the node could not run the call
            raise NodeFailed(f"the node could not answer {what}: {_rpc_message(exc)}") from None
        except requests.exceptions.RequestException as exc:  # a Web3 built on another provider
            raise NodeUnreachable(f"node stopped answering during {what}: {type(exc).__name__}") from None

    # ------------------------------------------------------------------ writes

    def _require_account(self) -> LocalAccount:
        if self.account is None:
            raise InvalidInput("this action needs a signing account (--account or CARELEDGER_PRIVATE_KEY)")
        return self.account

    def sender(self) -> Sender:
        """This key's :class:`~careledger.sender.Sender` over this connection (made once, kept
        with the provider, so every :class:`Chain` of the key on one connection shares it)."""
        acct = self._require_account()
        provider: Any = self.w3.provider
        with _SENDERS_LOCK:
            senders: dict[Any, Any] | None = getattr(provider, "_careledger_senders", None)
            if senders is None:
                senders = {}
                provider._careledger_senders = senders
            where = self._journal
            key = (self.chain_id, acct.address, where)
            sender = senders.get(key)
            if sender is None:
                journal = Journal(where) if where is not None else senders.get("throwaway")
                if journal is None:
                    journal = senders["throwaway"] = Journal.throwaway()
                sender = Sender(
                    Web3Node(self.w3),
                    acct,
                    journal=journal,
                    receipt_timeout=self.receipt_timeout,
                    hook=_DeferredHook(self),
                    chain_id=self.chain_id,
                )
                senders[key] = sender
        return sender

    @contextmanager
    def _estimating(self, what: str) -> Iterator[None]:
        """An estimate's failures in this SDK's words: a revert decoded (:class:`ChainRefused`),
        any other refusal (funds, fee, nonce) :class:`TransactionRejected`, no answer
        :class:`NodeUnreachable`. Nothing has been signed yet."""
        try:
            yield
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.decoder.refusal(_revert_data(exc), what) from None
        except Web3RPCError as exc:
            raise TransactionRejected(f"the node would not take {what}: {_rpc_message(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during {what}: {type(exc).__name__}") from None

    def send(self, fn: ContractFunction, what: str, value: int = 0, gas: int | None = None) -> TxReceipt:
        acct = self._require_account()
        with self._estimating(what):
            # 20 % over the estimate (rpc.GAS_MARGIN_PCT): what a call costs can depend on the
            # block it lands in (a vote checkpoint written at a new timestamp, say), and unused
            # gas is not charged.
            if gas is None:
                gas = fn.estimate_gas({"from": acct.address, "value": value}) * GAS_MARGIN_PCT // 100  # type: ignore[arg-type]
            data = fn._encode_transaction_data()
        return self._send(Operation(f"chain-{uuid.uuid4().hex}", fn.address, data, value, gas), what)

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, args: list[Any], what: str) -> TxReceipt:
        acct = self._require_account()
        with self._estimating(what):
            constructor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
            gas = constructor.estimate_gas({"from": acct.address}) * GAS_MARGIN_PCT // 100
            data = constructor.data_in_transaction
        return self._send(Operation(f"chain-{uuid.uuid4().hex}", None, data, 0, gas), what)

    def transfer(self, to: str, value: int, what: str) -> TxReceipt:
        """Send ``value`` wei to ``to`` (a plain transfer: 21,000 gas), through the same path."""
        self._require_account()
        return self._send(Operation(f"chain-{uuid.uuid4().hex}", checksum(to), "0x", value, 21_000), what)

    def _send(self, op: Operation, what: str) -> TxReceipt:
        """Through the key's sender; its failures in this class's words (a transaction that may
        still land is :class:`TransactionPending` with its hash; a revert is decoded)."""
        sender = self.sender()
        sender.receipt_timeout = self.receipt_timeout
        try:
            outcome = sender.submit([op])[0]
        except SendIncomplete as exc:
            raise self._incomplete(sender, op, what, exc) from None
        except TransactionRejected as exc:
            raise TransactionRejected(
                f"the node refused transaction {exc.tx_hash} ({what}): {exc.reason or exc.message}",
                tx_hash=exc.tx_hash,
                reason=exc.reason,
            ) from None
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexStr(outcome.tx_hash))
        except (NodeUnreachable, requests.exceptions.RequestException) as exc:
            cause = exc.message if isinstance(exc, CareLedgerError) else type(exc).__name__
            raise TransactionPending(
                f"{what}: transaction {outcome.tx_hash} was mined in block {outcome.block} but its receipt could not "
                f"be read ({cause})",
                tx_hash=outcome.tx_hash,
            ) from None
        if receipt["status"] != 1:
            # Replay the call at the block before to recover the revert data.
            tx = {"from": sender.address, "data": op.data, "value": op.value, **({"to": op.to} if op.to else {})}
            data = self._replay_revert(tx, receipt["blockNumber"])
            raise self.decoder.refusal(data, what, tx_hash=outcome.tx_hash)
        return receipt

    def _incomplete(self, sender: Sender, op: Operation, what: str, exc: SendIncomplete) -> CareLedgerError:
        cause = exc.cause or NodeUnreachable(exc.message)
        entry = sender.outcome(op.op_id)
        if entry is None:  # nothing signed: the node failed before (or an earlier send is stuck)
            return cause
        if isinstance(cause, TransactionPending) and cause.tx_hash == entry.tx_hash:
            return TransactionPending(f"{what}: {cause.message}", tx_hash=entry.tx_hash)
        if entry.status == "signed" and not isinstance(cause, TransactionPending):
            # The node never took it (the connection was refused): it is not sent later either.
            sender.forget_unsent(op.op_id)
            return cause
        if isinstance(cause, TransactionPending):
            return TransactionPending(
                f"{what}: transaction {entry.tx_hash} was sent but has no receipt after {sender.receipt_timeout:g} s; "
                "it may still be mined: look it up before sending again (a longer wait: $CARELEDGER_RECEIPT_TIMEOUT)",
                tx_hash=entry.tx_hash,
            )
        return TransactionPending(
            f"{what}: transaction {entry.tx_hash} was sent but the node stopped answering before its receipt "
            f"({cause.message}); look it up before sending again",
            tx_hash=entry.tx_hash,
        )

    def wait(self, tx_hash: str, what: str, timeout: float | None = None) -> TxReceipt:
        """Wait for a receipt, polling fast at first and backing off (no fixed 0.1 s sleep).
        :class:`TransactionPending` after ``timeout`` seconds (default: ``receipt_timeout``)."""
        timeout = self.receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = self.receipt_poll
        nudge_at = time.monotonic() + 2.0
        while True:
            receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash)) if self._has_receipt(tx_hash) else None
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise TransactionPending(
                    f"{what}: transaction {tx_hash} was sent but has no receipt after {timeout:g} s; it may still "
                    "be mined: look it up before sending again (a longer wait: $CARELEDGER_RECEIPT_TIMEOUT)",
                    tx_hash=tx_hash,
                )
            if time.monotonic() > nudge_at:  # no block for a while: a node that mines on request
                self.node_hook().stalled(self._raw_call)
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


def _rpc_message(exc: Web3RPCError) -> str:
    """The node's own words from a JSON-RPC error web3 raised."""
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict) and "error" in response:
        return _error_message(response["error"])
    return str(getattr(exc, "message", None) or exc)


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(data, dict):
        inner = data.get("data")
        return inner if isinstance(inner, str) else None
    return None
