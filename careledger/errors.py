"""The one exception tree of CareLedger.

Every error the SDK raises on purpose is a :class:`CareLedgerError`; each subclass carries the
process exit code the ``careledger`` command uses for it, so the CLI maps errors to codes in one
place and no traceback reaches a user.

=====  ============================  ===================================================
code   class                         meaning
=====  ============================  ===================================================
1      :class:`ChainRefused`         the chain refused the call (custom error decoded)
1      :class:`NotVerified`          a verification answered "no" (verdict printed)
1      :class:`TransactionRejected`  the node would not take a transaction (nonce, fee,
                                     funds); nothing was mined
1      :class:`RpcError`             the node answered one request with a JSON-RPC error
1      :class:`SettleFailed`         a settlement receipt does not show every claim paid
1      :class:`Refusal`              the record gateway refuses a request (HTTP status and
                                     a stable reason: no consent, replay, erased, ...)
1      :class:`GatewayRefused`       a record gateway refused this requester's read
2      :class:`InvalidInput`         the user's input is malformed; nothing was sent
3      :class:`NodeUnreachable`      no answer from the RPC endpoint (refused, reset,
                                     timed out)
3      :class:`NodeFailed`           the endpoint answered, but not usably (HTTP 5xx or
                                     429, not JSON-RPC, an error for a read)
3      :class:`SendIncomplete`       the send path ran out of retries; re-running with the
                                     same operation ids finishes without doubling
4      :class:`SuiteNotDeployed`     the chain does not have the suite / wrong file
4      :class:`ChainChanged`         the node behind the URL is now another chain
5      :class:`EnvironmentProblem`   a tool is missing, a port is taken, ...
5      :class:`MissingExtra`         an optional part's packages are not installed
6      :class:`DevnetOnly`           public test keys or the open-mint test token asked
                                     for on a chain that is not a known devnet
7      :class:`ChainUnsupported`     the chain's EVM lacks what the suite needs (Cancun)
8      :class:`TransactionPending`   a transaction was sent but its outcome is unknown
                                     (no receipt in time, or no answer to the send):
                                     check its hash before sending again
=====  ============================  ===================================================

:class:`InvalidInput` is also a ``ValueError``, so code that parses values may catch either.
:class:`UnsafeNumber` (a ``ValueError``, deliberately outside the tree) means a bug in the SDK:
an integer beyond 2^53 was about to be written as a JSON number; the CLI reports it as one (70).

The CLI also exits 130 when interrupted and 70 for anything outside this tree: that is a bug
(please report it), never an ordinary failure of the node or the network. Transport failures are
mapped where requests leave the SDK (:mod:`careledger.chain`'s provider, :mod:`careledger.rpc`,
:mod:`careledger.sender`), so every caller sees these types, not ``requests`` or ``web3`` ones.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CareLedgerError",
    "ChainChanged",
    "ChainRefused",
    "ChainUnsupported",
    "DevnetOnly",
    "EnvironmentProblem",
    "GatewayRefused",
    "InvalidInput",
    "MissingExtra",
    "NodeFailed",
    "NodeUnreachable",
    "NotVerified",
    "Refusal",
    "RpcError",
    "SendIncomplete",
    "SettleFailed",
    "SuiteNotDeployed",
    "TransactionPending",
    "TransactionRejected",
    "UnsafeNumber",
]


class CareLedgerError(Exception):
    """Base of every CareLedger error; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ChainRefused(CareLedgerError):
    """A transaction or call reverted. ``error_name``/``error_args`` hold the decoded custom
    error (``None`` when the revert carried no data we could decode)."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        error_name: str | None = None,
        error_args: dict[str, Any] | None = None,
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_args = error_args or {}
        self.tx_hash = tx_hash


class NotVerified(CareLedgerError):
    """A check answered "no": not a fault, but the CLI exits 1 with the reason. ``reported``
    is set when the command already printed the full answer (with --json, one document only)."""

    exit_code = 1

    def __init__(self, message: str, *, reported: bool = False) -> None:
        super().__init__(message)
        self.reported = reported


class GatewayRefused(NotVerified):
    """A record gateway said no to this requester: ``status`` (HTTP), ``reason`` (stable code), the body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"gateway refused ({status} {body.get('reason', '?')}): {body.get('error', body)}")
        self.status, self.body = status, body
        self.reason = str(body.get("reason", ""))


class InvalidInput(CareLedgerError, ValueError):
    """Malformed user input, found before anything was sent to a node."""

    exit_code = 2


class UnsafeNumber(ValueError):
    """An integer beyond +/-(2^53 - 1) was about to be written as a JSON number (a bug: the
    field should have been converted to a string by the convention). Not a CareLedgerError on
    purpose: the CLI answers it as the bug it is (exit 70)."""


class RpcError(CareLedgerError):
    """The node answered a request with a JSON-RPC error object (exit 1: for the send path's
    estimates and calls this is the chain refusing; the caller decides what else it means)."""

    def __init__(self, message: str, code: int = 0, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class SendIncomplete(CareLedgerError):
    """Retries ran out. ``done`` are op ids with receipts, ``pending`` were sent but are not yet
    mined (they will land or be re-sent on the next call with the same ids). ``cause`` is the
    failure that stopped the run (the node unreachable, or no receipt in time)."""

    exit_code = 3

    def __init__(
        self, message: str, done: list[str], pending: list[str], *, cause: CareLedgerError | None = None
    ) -> None:
        super().__init__(message)
        self.done = done
        self.pending = pending
        self.cause = cause


class SettleFailed(CareLedgerError):
    """A settlement transaction reverted or its receipt does not show every claim adjudicated
    and paid. The message names the operation and what was missing."""


class Refusal(CareLedgerError):
    """A read or write the record gateway refuses: HTTP ``status``, a stable ``reason``, a message."""

    def __init__(self, status: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.extra = status, reason, extra

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "reason": self.reason, **self.extra}


class NodeUnreachable(CareLedgerError):
    """The RPC endpoint did not answer (connection refused or reset, timed out)."""

    exit_code = 3


class NodeFailed(NodeUnreachable):
    """The endpoint answered, but not usably: an HTTP error status (5xx, 429 after retries), a
    body that is not a JSON-RPC reply, or a JSON-RPC error for a request that cannot fail on a
    healthy node (a block, a balance, the logs)."""

    exit_code = 3


class TransactionRejected(CareLedgerError):
    """The node refused to accept a signed transaction (nonce too low or too high, fee below the
    base fee, funds short of gas × price + value, ...): nothing was mined, nothing changed.
    ``reason`` is the node's own words, when it gave some."""

    exit_code = 1

    def __init__(self, message: str, *, tx_hash: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.reason = reason


class TransactionPending(CareLedgerError):
    """A transaction was handed to the node but its outcome is unknown: no receipt came in time,
    or the connection failed after the transaction left. It may still be mined; look up
    ``tx_hash`` before sending the action again (a second send would be a second transaction)."""

    exit_code = 8

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class SuiteNotDeployed(CareLedgerError):
    """The chain has no CareLedger suite, or the deployments file belongs to another chain."""

    exit_code = 4


class ChainChanged(SuiteNotDeployed):
    """The node behind the RPC URL is now another chain (its chain id changed during the run):
    nothing more is sent to it."""

    exit_code = 4


class DevnetOnly(CareLedgerError):
    """Something that is only safe on a throwaway local devnet (keys derived from the public test
    mnemonic, the open-mint test token) was asked for on a chain the project did not start and
    nobody declared a devnet (``--devnet``). See docs/networks.md."""

    exit_code = 6


class ChainUnsupported(CareLedgerError):
    """The chain's EVM lacks an instruction the suite's bytecode uses (found by a probe, never by
    chain id); the message names the missing EVM version. See docs/networks.md."""

    exit_code = 7


class EnvironmentProblem(CareLedgerError):
    """The machine lacks something: Node, the anvil binary, a free port, the build output."""

    exit_code = 5


class MissingExtra(EnvironmentProblem):
    """An optional part of the package (``careledger[relay]``, ``[scan]``, ``[fhir]``, ...) is used
    but its packages are not installed; the message names the extra to install."""

    exit_code = 5

    def __init__(self, extra: str, purpose: str, module: str | None = None) -> None:
        missing = f" (module {module!r} is not installed)" if module else ""
        super().__init__(f"{purpose} needs the optional '{extra}' packages{missing}: pip install 'careledger[{extra}]'")
        self.extra = extra
        self.module = module
