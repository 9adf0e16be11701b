"""Shared state of one ``careledger`` invocation: where the node is, how to print, who signs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from careledger.accounts import DevAccount, PersonIdentity
    from careledger.chain import Chain
    from careledger.consent.records import RecordStore
    from careledger.deployments import Deployment

__all__ = ["AppContext", "ask_passphrase", "pass_app", "record_store"]


@dataclass
class AppContext:
    rpc: str
    json_output: bool
    account: str | None
    devnet: bool = False  # --devnet: the user declares the chain a throwaway devnet
    _chain: Chain | None = field(default=None, repr=False)
    _deployment: Deployment | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ chain

    def chain(self) -> Chain:
        if self._chain is None:
            from careledger.artifacts import load_artifacts
            from careledger.chain import Chain, ErrorDecoder, connect

            w3 = connect(self.rpc)
            self._chain = Chain(w3, ErrorDecoder.from_abis(load_artifacts().all_abis()), devnet=self.devnet or None)
        return self._chain

    def deployment(self) -> Deployment:
        if self._deployment is None:
            from careledger.deployments import load_deployment

            self._deployment = load_deployment(self.chain().w3)
        return self._deployment

    def address(self, value: str, what: str = "address") -> str:
        """The one rule for naming a party on the command line: a 0x address (checked and
        checksummed; no node is contacted), or a devnet cast name (``pharmacy``, ``clinic``; see
        ``careledger devnet accounts``), accepted only on a devnet (:meth:`Chain.is_devnet`: one
        the project started, or declared with ``--devnet``), else
        :class:`~careledger.errors.DevnetOnly`. Anything else is
        :class:`~careledger.errors.InvalidInput`."""
        from careledger.chain import checksum

        text = value.strip()
        if text[:2].lower() == "0x":
            return checksum(text, what)
        return self._cast_member(
            text,
            f"{what} {value!r} is neither a 0x address nor a devnet account name (see 'careledger devnet accounts')",
            f"{what} {value!r}: devnet account names",
            "give a 0x address",
        ).address

    def _cast_member(self, name: str, unknown: str, what: str, remedy: str) -> DevAccount:
        """The devnet cast member ``name`` (:class:`InvalidInput` ``unknown`` when there is none),
        only on a devnet (:class:`DevnetOnly` naming ``what`` and the ``remedy`` elsewhere)."""
        from careledger.accounts import dev_account
        from careledger.devchain import require_devnet
        from careledger.errors import InvalidInput

        try:
            member = dev_account(name)
        except KeyError:
            raise InvalidInput(unknown) from None
        chain = self.chain()
        require_devnet(chain.is_devnet(), what, chain.chain_id, remedy)
        return member

    def person(self, name: str | None = None) -> PersonIdentity | None:
        """The person acting (or asked about), when it is one: a devnet person of the cast (by
        name: ``--account patient``, or ``name``), else ``$CARELEDGER_PATIENT_MNEMONIC`` (with
        ``$CARELEDGER_PATIENT_IDENTITY``, ``$CARELEDGER_PATIENT_PASSPHRASE``) when no account is
        named. None: act as the account's own address (an organisation, a delegate, a legacy key)."""
        from careledger.accounts import PersonIdentity, dev_account, dev_person
        from careledger.devchain import require_devnet

        key = os.environ.get("CARELEDGER_PRIVATE_KEY")
        who = name if name is not None else (self.account or (None if key else "patient"))
        if who is not None and not who.startswith("0x"):
            try:
                member = dev_account(who)
            except KeyError:
                return None
            if member.role is not None or member.name == "admin":
                return None
            chain = self.chain()
            require_devnet(
                chain.is_devnet(), f"devnet person {who!r}", chain.chain_id, "set CARELEDGER_PATIENT_MNEMONIC"
            )
            return dev_person(who)
        mnemonic = os.environ.get("CARELEDGER_PATIENT_MNEMONIC")
        if name is None and self.account is None and mnemonic:
            return PersonIdentity(
                mnemonic,
                int(os.environ.get("CARELEDGER_PATIENT_IDENTITY", "0")),
                os.environ.get("CARELEDGER_PATIENT_PASSPHRASE", ""),
            )
        return None

    def signer(self, default: str | None = None) -> Chain:
        """The chain with a signing key: ``--account`` (a devnet cast name or index), else
        ``$CARELEDGER_PRIVATE_KEY``, else ``default`` (a devnet cast name). Cast names are keys
        from the public test mnemonic: only on a devnet (:meth:`Chain.is_devnet`), else
        :class:`~careledger.errors.DevnetOnly`."""
        from careledger.errors import InvalidInput

        chain = self.chain()
        key = os.environ.get("CARELEDGER_PRIVATE_KEY")
        name = self.account or (None if key else default)
        if name is not None:
            if name.startswith("0x") and len(name) == 66:
                return chain.with_account(name)
            member = self._cast_member(
                name,
                f"unknown account {name!r}; see 'careledger devnet accounts'",
                f"devnet account names like {name!r} (keys from the public test mnemonic)",
                "set CARELEDGER_PRIVATE_KEY to a real key",
            )
            return chain.with_account(member.account)
        if key:
            try:
                return chain.with_account(key)
            except (ValueError, TypeError):
                raise InvalidInput("CARELEDGER_PRIVATE_KEY is not a valid private key") from None
        raise InvalidInput("this action needs a signer: pass --account NAME or set CARELEDGER_PRIVATE_KEY")

    # ------------------------------------------------------------------ output

    def emit(self, data: Any, human: Callable[[], None] | None = None) -> None:
        """Print ``data`` as exact JSON with --json (``careledger.exactjson``, docs/json.md), else run
        ``human`` (or print data plainly)."""
        from careledger.exactjson import dumps

        if self.json_output:
            sys.stdout.write(dumps(data) + "\n")
        elif human is not None:
            human()
        else:
            click.echo(data if isinstance(data, str) else dumps(data))

    def emit_rows(self, rows: list[Any], line: Callable[[Any], str], empty: str) -> None:
        """A list: exact JSON with --json, else one ``line(row)`` per row (``empty`` when none)."""

        def human() -> None:
            click.echo("\n".join(line(r) for r in rows) if rows else empty)

        self.emit(rows, human)


pass_app = click.make_pass_decorator(AppContext)


def ask_passphrase(env: str, what: str) -> str:
    """A key-file passphrase: ``$env``, else asked on the terminal (hidden); with neither,
    :class:`~careledger.errors.InvalidInput` naming the variable."""
    from careledger.errors import InvalidInput

    passphrase = os.environ.get(env)
    if not passphrase:
        if not sys.stdin.isatty():
            raise InvalidInput(f"{what} need a passphrase: set ${env} (no terminal to ask on)")
        passphrase = str(click.prompt(f"{what} passphrase", hide_input=True, err=True))
    return passphrase


def record_store(folder: str | None, keys: str | None = None) -> RecordStore:
    """The off-chain record store the commands share (``records``, ``claims status --records``):
    ``folder`` or its default (:class:`~careledger.consent.records.RecordStore`), the key-file
    passphrase from ``$CARELEDGER_RECORDS_PASSPHRASE`` or the terminal."""
    from pathlib import Path

    from careledger.consent.records import PASSPHRASE_ENV, RecordStore

    passphrase = ask_passphrase(PASSPHRASE_ENV, "the record keys")
    return RecordStore(Path(folder) if folder else None, passphrase, Path(keys) if keys else None)
