"""The one exception tree of CareLedger.

Every error the SDK raises on purpose is a :class:`CareLedgerError`; each subclass carries the
process exit code the ``careledger`` command uses for it, so the CLI maps errors to codes in one
place and no traceback reaches a user.

=====  ==========================  ==================================================
code   class                       meaning
=====  ==========================  ==================================================
1      :class:`ChainRefused`       the chain refused the call (custom error decoded)
1      :class:`NotVerified`        a verification answered "no" (verdict printed)
2      :class:`InvalidInput`       the user's input is malformed; nothing was sent
3      :class:`NodeUnreachable`    no answer from the RPC endpoint
4      :class:`SuiteNotDeployed`   the chain does not have the suite / wrong file
5      :class:`EnvironmentProblem` a tool is missing, a port is taken, ...
5      :class:`MissingExtra`       an optional part's packages are not installed
=====  ==========================  ==================================================
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CareLedgerError",
    "ChainRefused",
    "EnvironmentProblem",
    "InvalidInput",
    "MissingExtra",
    "NodeUnreachable",
    "NotVerified",
    "SuiteNotDeployed",
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


class InvalidInput(CareLedgerError):
    """Malformed user input, found before anything was sent to a node."""

    exit_code = 2


class NodeUnreachable(CareLedgerError):
    """The RPC endpoint did not answer (refused, timed out, not an Ethereum node)."""

    exit_code = 3


class SuiteNotDeployed(CareLedgerError):
    """The chain has no CareLedger suite, or the deployments file belongs to another chain."""

    exit_code = 4


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
