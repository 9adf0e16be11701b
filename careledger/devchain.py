"""Knowing a local devnet by what it is, never by its chain id.

Keys derived from the public test mnemonic (the named dev accounts: ``admin``, ``clinic``,
``patient``...) and the open-mint test token are only safe on a throwaway chain. Chain id 31337
or 1337 does not make a chain throwaway: 1337 is also a common id for private PoA chains, and
anyone can start an anvil with either. A chain counts as a devnet only when

- its block 0 hash is the genesis of a devnet this project started (:class:`careledger.devnet.Devnet`
  records it on every start: ``careledger devnet up``, ``make up``, the demo, the test and
  benchmark harnesses), and that devnet is still running or kept its state; or
- someone said so explicitly: ``careledger --devnet`` (or ``$CARELEDGER_DEVNET=1``), or a caller
  that started the chain itself (Ape's in-process test chain in ``scripts/deploy.py``).

The records are small JSON files in ``.careledger/devnets/`` of the checkout
(``$CARELEDGER_DEVNET_REGISTRY`` moves them), one per devnet folder: ``<genesis>.<folder key>.json``.
A record whose devnet is gone for good (an ephemeral devnet whose process ended, a persistent one
whose state folder was deleted) no longer counts and is removed when next seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from web3 import Web3

from careledger._paths import project_root
from careledger.errors import DevnetOnly
from careledger.rpc import NodeHook

__all__ = [
    "declared",
    "forget",
    "node_hook",
    "recognise",
    "recognise_genesis",
    "record",
    "registry_dir",
    "require_devnet",
    "started_by_project",
]

_TRUE = {"1", "true", "yes", "on"}


def registry_dir() -> Path:
    env = os.environ.get("CARELEDGER_DEVNET_REGISTRY")
    return Path(env).resolve() if env else project_root() / ".careledger" / "devnets"


def _folder_key(folder: Path) -> str:
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]


def _normal(genesis: str) -> str:
    return genesis.lower().removeprefix("0x")


def record(genesis: str, folder: Path, *, pid: int, persist: bool, rpc_url: str) -> Path:
    """Note that the project started the devnet in ``folder`` with block 0 ``genesis``. Replaces
    the folder's earlier record (a persistent devnet keeps its genesis across restarts; a new
    one in the same folder has a new genesis)."""
    folder = folder.resolve()
    reg = registry_dir()
    reg.mkdir(parents=True, exist_ok=True)
    key = _folder_key(folder)
    for old in reg.glob("*.json"):  # this folder's earlier record, and records of devnets gone for good
        if old.name.endswith(f".{key}.json") or not _readable_and_counts(old):
            old.unlink(missing_ok=True)
    path = reg / f"{_normal(genesis)}.{key}.json"
    data = {"genesis": genesis, "folder": str(folder), "pid": pid, "persist": persist, "rpcUrl": rpc_url}
    fd, tmp = tempfile.mkstemp(dir=reg, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
    return path


def forget(folder: Path) -> None:
    """Drop the record of the devnet in ``folder`` (an ephemeral devnet that was stopped: its
    chain is gone and can never answer again)."""
    reg = registry_dir()
    if reg.is_dir():
        for path in reg.glob(f"*.{_folder_key(folder)}.json"):
            path.unlink(missing_ok=True)


def _alive_anvil(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return b"anvil" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): the pid answers, trust it


def _still_counts(data: dict[str, Any]) -> bool:
    folder = Path(str(data.get("folder", "")))
    if data.get("persist") and (folder / "state.json").is_file():
        return True  # stopped or running, its chain comes back with `devnet up`
    pid = data.get("pid")
    return isinstance(pid, int) and _alive_anvil(pid)


def _readable_and_counts(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and _still_counts(data)


def started_by_project(genesis: str) -> bool:
    """Whether a devnet the project started, and that still exists, has this block 0 hash."""
    reg = registry_dir()
    if not reg.is_dir():
        return False
    found = False
    for path in reg.glob(f"{_normal(genesis)}.*.json"):
        if _readable_and_counts(path):
            found = True
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found


def declared() -> bool:
    """``$CARELEDGER_DEVNET`` says the chain at hand is a throwaway devnet."""
    return os.environ.get("CARELEDGER_DEVNET", "").strip().lower() in _TRUE


def recognise(w3: Web3) -> bool:
    """Whether the chain ``w3`` talks to is a devnet: declared, or started by the project."""
    if declared():
        return True
    block = w3.eth.get_block(0)
    return started_by_project(bytes(block["hash"]).hex())


def recognise_genesis(genesis: str) -> bool:
    """:func:`recognise` for a chain known by its block 0 hash (a raw JSON-RPC client's view)."""
    return declared() or started_by_project(genesis)


def node_hook(is_devnet: bool) -> NodeHook:
    """The :class:`~careledger.rpc.NodeHook` the transport uses on a chain: the devnet's own
    (:class:`careledger.devnet.DevnetHook`) on a recognised devnet, else the one that does
    nothing. This is where the devnet's workarounds are injected into the send path; the
    transport itself knows no node software by name."""
    if not is_devnet:
        return NodeHook()
    from careledger.devnet import DevnetHook

    return DevnetHook()


def require_devnet(is_devnet: bool, what: str, chain_id: int, remedy: str) -> None:
    """:class:`DevnetOnly` unless ``is_devnet``: ``what`` names the devnet-only thing asked for,
    ``remedy`` what to do on a real chain."""
    if not is_devnet:
        raise DevnetOnly(
            f"{what}: only for a local devnet, and chain {chain_id} is not one this project started "
            f"(judged by its genesis block, not its chain id); {remedy}, or pass --devnet if it really is "
            "a throwaway devnet"
        )
