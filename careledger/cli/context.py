"""Shared state of one ``careledger`` invocation: where the node is, how to print, who signs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from careledger.chain import Chain
    from careledger.deployments import Deployment

__all__ = ["AppContext", "pass_app"]


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

    def signer(self, default: str | None = None) -> Chain:
        """The chain with a signing key: ``--account`` (a devnet cast name or index), else
        ``$CARELEDGER_PRIVATE_KEY``, else ``default`` (a devnet cast name). Cast names are keys
        from the public test mnemonic: only on a devnet (:meth:`Chain.is_devnet`), else
        :class:`~careledger.errors.DevnetOnly`."""
        from careledger.accounts import dev_account
        from careledger.devchain import require_devnet
        from careledger.errors import InvalidInput

        chain = self.chain()
        key = os.environ.get("CARELEDGER_PRIVATE_KEY")
        name = self.account or (None if key else default)
        if name is not None:
            if name.startswith("0x") and len(name) == 66:
                return chain.with_account(name)
            try:
                member = dev_account(name)
            except KeyError:
                raise InvalidInput(f"unknown account {name!r}; see 'careledger devnet accounts'") from None
            require_devnet(
                chain.is_devnet(),
                f"devnet account names like {name!r} (keys from the public test mnemonic)",
                chain.chain_id,
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


pass_app = click.make_pass_decorator(AppContext)
