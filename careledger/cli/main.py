"""Entry point of the ``careledger`` command.

Exit codes (the table with every error class: :mod:`careledger.errors`, docs/architecture.md):
0 ok; 1 refused by the chain or the node (or a verification that answered no); 2 invalid input;
3 node unreachable or answering unusably; 4 suite not deployed / another chain; 5 environment
(missing tool, port taken); 6 devnet-only keys or token on a chain that is not a known devnet;
7 the chain's EVM lacks what the suite needs; 8 a transaction sent whose outcome is unknown;
130 interrupted; 70 an internal error (a bug: please report it).
Domain command groups are imported only when used, so start-up stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from careledger.cli.context import AppContext

# command name -> (module, attribute). A domain that has not landed yet is simply not listed.
_COMMANDS: dict[str, tuple[str, str]] = {
    "devnet": ("careledger.cli.devnet_cmd", "devnet"),
    "deploy": ("careledger.cli.deploy_cmd", "deploy"),
    "directory": ("careledger.directory.cli", "directory"),
    "consent": ("careledger.consent.cli", "consent"),
    "records": ("careledger.consent.records_cli", "records"),
    "relay": ("careledger.consent.relay_cli", "relay"),
    "drugs": ("careledger.provenance.cli", "drugs"),
    "claims": ("careledger.claims.cli", "claims"),
    "gov": ("careledger.governance.cli", "gov"),
    "index": ("careledger.index.cli", "index"),
    "gateway": ("careledger.gateway.cli", "gateway"),
    "upgrade": ("careledger.upgrade_cli", "upgrade"),
}


def _available(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (mod, _) in _COMMANDS.items() if _available(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        cmd = getattr(importlib.import_module(entry[0]), entry[1])
        assert isinstance(cmd, click.Command)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--rpc",
    envvar="CARELEDGER_RPC",
    default="http://127.0.0.1:8545",
    show_default=True,
    help="JSON-RPC URL of the node (any EVM chain with the suite deployed).",
)
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option(
    "--account",
    envvar="CARELEDGER_ACCOUNT",
    default=None,
    help="Signer: a devnet account name (see 'devnet accounts') or a 0x private key.",
)
@click.option(
    "--devnet",
    is_flag=True,
    envvar="CARELEDGER_DEVNET",
    help="Declare the chain a throwaway devnet (named test accounts, test token). Not needed for "
    "devnets this project started: they are recognised by their genesis block.",
)
@click.version_option(package_name="careledger")
@click.pass_context
def cli(ctx: click.Context, rpc: str, json_output: bool, account: str | None, devnet: bool) -> None:
    """CareLedger: consent, claims and drug provenance on an Ethereum-compatible chain."""
    ctx.obj = AppContext(rpc=rpc, json_output=json_output, account=account, devnet=devnet)


def _report(message: str, code: int, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    if as_json:
        from careledger.exactjson import dumps

        sys.stdout.write(dumps({"error": message, "exitCode": code, **(extra or {})}, indent=None) + "\n")
    else:
        click.echo(f"error: {message}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a traceback)."""
    from careledger.errors import CareLedgerError, ChainRefused, NotVerified

    args = list(sys.argv[1:] if argv is None else argv)
    # --json is global but users put it anywhere ("careledger drugs verify X --json"): hoist it.
    cut = args.index("--") if "--" in args else len(args)
    as_json = "--json" in args[:cut]
    if as_json:
        args = ["--json", *[a for a in args[:cut] if a != "--json"], *args[cut:]]
    try:
        cli.main(args=args, prog_name="careledger", standalone_mode=False)
    except NotVerified as exc:
        if exc.reported and as_json:
            return exc.exit_code  # the answer (verified: false, with the reason) is already on stdout
        return _report(exc.message, exc.exit_code, as_json, {"kind": "NotVerified"})
    except CareLedgerError as exc:
        extra: dict[str, Any] = {"kind": type(exc).__name__}
        if isinstance(exc, ChainRefused) and exc.error_name:
            extra.update(customError=exc.error_name, args=exc.error_args)
        if getattr(exc, "tx_hash", None):  # a pending or rejected transaction: which one
            extra["txHash"] = exc.tx_hash  # type: ignore[attr-defined]
        return _report(exc.message, exc.exit_code, as_json, extra)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        return _report("interrupted", 130, as_json)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        return _report(f"{exc.format_message()}{hint}", 2, as_json)
    except click.ClickException as exc:
        return _report(exc.format_message(), 2, as_json)
    except KeyboardInterrupt:
        return _report("interrupted", 130, as_json)
    except Exception as exc:
        if os.environ.get("CARELEDGER_DEBUG"):
            raise
        return _report(
            f"internal error ({type(exc).__name__}: {exc}); rerun with CARELEDGER_DEBUG=1 and report it", 70, as_json
        )
    return 0


def main() -> None:
    sys.exit(run())
