"""The command line's parameter types, shared by every command group.

Each type turns the text a user typed into the value the SDK takes, or stops the command with
one readable line and exit code 2 (click's usage error: ``error: Invalid value for 'GRANTEE':
...``) before anything is sent. Parties follow one rule, :meth:`AppContext.address`: a 0x
address, or on a devnet a cast name (``pharmacy``); a name on another chain is
:class:`~careledger.errors.DevnetOnly` (exit 6), not a usage error.

Only the address type (for a cast name) and the amount type (for the token's decimals) may ask
the node anything; the others parse text alone, so a malformed value is refused before any node
is contacted.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

import click

from careledger.cli.context import AppContext
from careledger.errors import InvalidInput

__all__ = [
    "ADDRESS",
    "BATCH",
    "CATEGORIES",
    "CATEGORY",
    "CLAIM_ID",
    "PERIOD",
    "PURPOSE",
    "PURPOSES",
    "REASON",
    "ROLES",
    "AddressType",
    "AmountType",
    "BatchType",
    "Bytes32Type",
    "Code32Type",
    "CodeSetType",
    "CodeType",
    "PeriodType",
    "RolesType",
    "role_names",
]


def _app(ctx: click.Context | None) -> AppContext:
    app = ctx.find_object(AppContext) if ctx is not None else None
    if app is None:  # a command used outside ``careledger`` (a bug of the caller)
        raise RuntimeError("careledger parameter types need the careledger command's context")
    return app


def _what(param: click.Parameter | None, default: str) -> str:
    if param is None or param.name is None:
        return default
    return param.name.replace("_", " ")


class _Checked(click.ParamType):
    """A parameter type whose parsing is an SDK function: its :class:`InvalidInput` becomes the
    usage error (one line, exit 2)."""

    def _checked(self, parse: Callable[[], Any], param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return parse()
        except InvalidInput as exc:
            self.fail(exc.message, param, ctx)


class AddressType(_Checked):
    """An account: a 0x address (checksummed) or, on a devnet, a cast name (``clinic``)."""

    name = "address"

    def __init__(self, what: str | None = None) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not isinstance(value, str):
            self.fail(f"{value!r} is not an address", param, ctx)
        return str(self._checked(lambda: _app(ctx).address(value, self.what or _what(param, "address")), param, ctx))


class Bytes32Type(click.ParamType):
    """A 32-byte id or commitment: 0x + 64 hex digits. A ``commitment`` (a salted hash of an
    off-chain document) must not be zero: the contracts refuse an empty one."""

    name = "bytes32"

    def __init__(self, what: str = "value", *, commitment: bool = False) -> None:
        self.what = what
        self.commitment = commitment

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes) and len(value) == 32:
            return value
        text = str(value).strip()
        raw = b""
        if text[:2].lower() == "0x" and len(text) == 66:
            try:
                raw = bytes.fromhex(text[2:])
            except ValueError:
                raw = b""
        if len(raw) != 32 and self.commitment:
            self.fail(
                f"{self.what} must be a commitment: 0x + 64 hex digits (e.g. from 'careledger records store'), "
                f"not {value!r}",
                param,
                ctx,
            )
        if len(raw) != 32:
            self.fail(f"{self.what} {value!r} must be 0x + 64 hex digits", param, ctx)
        if self.commitment and not any(raw):
            self.fail(f"{self.what} must not be zero: commit to the real {self.what} (a salted hash)", param, ctx)
        return raw


class BatchType(_Checked):
    """A drug batch: its id (0x + 64 hex digits) or ``GTIN/LOT`` (check digit validated)."""

    name = "batch"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        from careledger.provenance.gs1 import _check_gtin
        from careledger.provenance.ids import batch_id

        if isinstance(value, bytes) and len(value) == 32:
            return value
        text = str(value).strip()
        if text[:2].lower() == "0x" and len(text) == 66:
            try:
                return bytes.fromhex(text[2:])
            except ValueError:
                pass
        elif "/" in text:
            gtin, _, lot = text.partition("/")
            return bytes(self._checked(lambda: batch_id(int(_check_gtin(gtin)), lot), param, ctx))
        self.fail(f"batch {value!r} must be a batch id (0x + 64 hex digits) or GTIN/LOT", param, ctx)


class AmountType(_Checked):
    """A token amount typed with decimals (``180.00``) -> base units (int), exact (a Decimal, no
    float), positive, refusing more places than the token has. ``decimals`` is the token's: a
    number, or a function of the command's :class:`AppContext` (e.g. read from the token contract)."""

    name = "amount"

    def __init__(self, decimals: int | Callable[[AppContext], int]) -> None:
        self.decimals = decimals

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # a default already in base units
        from careledger.claims.batchfile import parse_amount

        decimals = self.decimals if isinstance(self.decimals, int) else self.decimals(_app(ctx))
        return int(self._checked(lambda: parse_amount(str(value), decimals), param, ctx))


class CodeType(click.ParamType):
    """One code of a code table (``Category``, ``Purpose``), by name, case-insensitive
    (``lab-result`` or ``LAB_RESULT``)."""

    def __init__(self, table: type[IntEnum], what: str) -> None:
        self.table = table
        self.what = what
        self.name = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> IntEnum:
        if isinstance(value, self.table):
            return value
        key = str(value).strip().upper().replace("-", "_")
        try:
            return self.table[key]
        except KeyError:
            names = ", ".join(m.name.lower() for m in self.table)
            self.fail(f"unknown {self.what} {value!r} (one of {names})", param, ctx)


class CodeSetType(_Checked):
    """Comma-separated codes of a code table, or ``all`` -> the bit mask the contracts take."""

    def __init__(self, table: type[IntEnum], what: str) -> None:
        self.table = table
        self.what = what
        self.name = f"{what}s"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from careledger.consent.terms import parse_mask

        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(self._checked(lambda: parse_mask(str(value), self.table, self.what), param, ctx))


class Code32Type(_Checked):
    """A short code as the contracts store it (bytes32): ASCII up to 32 characters (``DAMAGED``)
    or 0x + 64 hex digits (:func:`careledger.provenance.client.code32`)."""

    name = "code"

    def __init__(self, what: str = "reason code") -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        from careledger.provenance.client import code32

        if isinstance(value, bytes) and len(value) == 32:
            return value
        return bytes(self._checked(lambda: code32(str(value), self.what), param, ctx))


class PeriodType(_Checked):
    """``START..END`` (dates or times, either side may be empty; days inclusive) -> ``(since,
    until)`` unix times (:func:`careledger.index.service.parse_period`). An option left out is
    ``(None, None)``: give it ``default=""``."""

    name = "period"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int | None, int | None]:
        from careledger.index.service import parse_period

        if isinstance(value, tuple):
            return value
        since, until = self._checked(lambda: parse_period(str(value)), param, ctx)
        return since, until


class RolesType(_Checked):
    """Directory roles: ``pharmacy`` or ``provider,relayer`` -> :class:`~careledger.codes.Role` flags."""

    name = "roles"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from careledger.codes import Role, parse_role

        if isinstance(value, Role):
            return value
        return self._checked(lambda: parse_role(str(value)), param, ctx)


def role_names(roles: Any) -> str:
    """``Role.PROVIDER | Role.RELAYER`` -> ``"provider,relayer"`` (the form :data:`ROLES` reads)."""
    from careledger.codes import Role

    return ",".join(str(m.name).lower() for m in Role if m and m in roles)


def _category_table() -> type[IntEnum]:
    from careledger.codes import Category

    return Category


def _purpose_table() -> type[IntEnum]:
    from careledger.codes import Purpose

    return Purpose


ADDRESS = AddressType()
CLAIM_ID = Bytes32Type("claim id")
BATCH = BatchType()
CATEGORY = CodeType(_category_table(), "category")
PURPOSE = CodeType(_purpose_table(), "purpose")
CATEGORIES = CodeSetType(_category_table(), "category")
PURPOSES = CodeSetType(_purpose_table(), "purpose")
ROLES = RolesType()
REASON = Code32Type()
PERIOD = PeriodType()
