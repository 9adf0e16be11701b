"""The local devnet: anvil from ``node_modules/.bin``, bound to 127.0.0.1, state kept in
``.devnet/`` so that ``down`` then ``up`` (or a crash) loses nothing.

anvil writes its state on a clean shutdown and every ``STATE_INTERVAL`` seconds, so after a
``kill -9`` at most that many seconds of blocks are lost.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from careledger._paths import devnet_dir, node_bin
from careledger.accounts import DEV_MNEMONIC
from careledger.errors import EnvironmentProblem, NodeUnreachable, RpcError
from careledger.rpc import NodeCall, NodeHook

__all__ = ["Devnet", "DevnetHook", "DevnetStatus", "anvil_binary", "free_port", "port_in_use"]

STATE_INTERVAL = 2  # seconds between anvil's state snapshots
DEFAULT_PORT = 8545
CHAIN_ID = 31337
# A unix time for the genesis block (anvil --timestamp): tests and seeded runs pin the chain's
# clock so that what they do is the same on any day; unset, the chain starts at the wall clock.
GENESIS_TIMESTAMP_ENV = "CARELEDGER_GENESIS_TIMESTAMP"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for ephemeral devnets and servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def anvil_binary() -> Path:
    """The native anvil that ``npm ci`` installed. ``node_modules/.bin/anvil`` is a Node shim that
    spawns it; running the binary directly means our pid *is* anvil's, so a kill reaches it."""
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    system = platform.system().lower()
    native = node_bin("anvil").parent.parent / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    return native if native.exists() else node_bin("anvil")


def _rpc(url: str, method: str, params: list[object] | None = None, timeout: float = 2.0) -> object:
    resp = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout
    )
    resp.raise_for_status()
    return resp.json().get("result")


class DevnetHook(NodeHook):
    """anvil's quirks, behind the transport's :class:`~careledger.rpc.NodeHook`: the send path
    (:mod:`careledger.sender`, :class:`careledger.chain.Chain`, the relayer) calls it when a
    transaction seems stuck, and only on a chain :mod:`careledger.devchain` recognises as a
    devnet the project started or someone declared (never by chain id)."""

    def stalled(self, call: NodeCall) -> bool:
        """Mine one block when automine has left transactions pending.

        anvil's automine normally mines each transaction as it arrives, but after a burst larger
        than a block it was seen leaving transactions pending under an empty head (1,356 of
        3,000) until someone mined. Never when automine is off (interval mining, or a test or a
        script that owns mining)."""
        try:
            if not call("anvil_getAutomine", []):
                return False
            status = call("txpool_status", [])
            if not isinstance(status, dict) or int(str(status.get("pending", "0x0")), 16) == 0:
                return False
            call("evm_mine", [])
        except (RpcError, NodeUnreachable, ValueError):
            return False
        return True

    def wedged(self, call: NodeCall, address: str) -> bool:
        """Drop an account's transactions that the pool holds as "queued" although the chain has
        reached their nonce.

        anvil (1.x), sent a burst of one account's transactions in JSON-RPC batches, was seen
        leaving the rest of the burst queued behind a predecessor it had already mined (38 of 74,
        for good): no block takes them, and the same bytes are refused as "already imported". The
        sign is unambiguous: nothing of the account's is pending (ready) and its lowest queued
        nonce is the account's mined transaction count. Then the account's pool transactions are
        removed so that the caller can send them again (same bytes, in nonce order)."""
        try:
            pool = call("txpool_inspect", []) or {}
            key = address.lower()
            if any(str(a).lower() == key for a in (pool.get("pending") or {})):
                return False
            queued = next((txs for a, txs in (pool.get("queued") or {}).items() if str(a).lower() == key), None)
            if not queued:
                return False
            mined = int(str(call("eth_getTransactionCount", [address, "latest"])), 16)
            if min(int(n) for n in queued) != mined:
                return False  # a real gap: an earlier nonce is missing, not a wedge
            call("anvil_removePoolTransactions", [address])
        except (RpcError, NodeUnreachable, ValueError):
            return False
        return True


@dataclass
class DevnetStatus:
    running: bool
    pid: int | None
    rpc_url: str
    chain_id: int | None
    block: int | None
    state_file: Path

    def to_json(self) -> dict[str, object]:
        return {
            "running": self.running,
            "pid": self.pid,
            "rpcUrl": self.rpc_url,
            "chainId": self.chain_id,
            "block": self.block,
            "stateFile": str(self.state_file),
        }


class Devnet:
    """One anvil process described by a folder (``.devnet/`` by default)."""

    def __init__(
        self,
        folder: Path | None = None,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        persist: bool = True,
        block_time: float | None = None,
    ) -> None:
        """``block_time``: mine a block every that many seconds (anvil ``--block-time``, interval
        mining: a transaction is a mempool insert and waits for the next block, as on a real
        chain) instead of one block per transaction as it arrives (automine, the default). The
        relayer reaches its throughput this way (docs/consent.md); everything else works in
        either mode, automine answers sooner. With ``persist`` every empty block's state is kept
        too (measured: about 5 MB a second at 0.02 s): ``careledger devnet up --block-time``
        starts a throwaway chain."""
        if block_time is not None and not 0.001 <= block_time <= 3600:
            raise EnvironmentProblem(f"block time must be between 0.001 and 3600 seconds, not {block_time:g}")
        self.folder = folder or devnet_dir()
        self.port = port
        self.host = host
        self.persist = persist
        self.block_time = block_time

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.folder / "anvil.pid"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def log_file(self) -> Path:
        return self.folder / "anvil.log"

    # ------------------------------------------------------------------ process

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie or a recycled pid is not our anvil.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        return pid if b"anvil" in cmdline else None

    def status(self) -> DevnetStatus:
        pid = self._pid()
        chain_id = block = None
        if pid is not None:
            try:
                chain_id = int(str(_rpc(self.rpc_url, "eth_chainId")), 16)
                block = int(str(_rpc(self.rpc_url, "eth_blockNumber")), 16)
            except (requests.RequestException, ValueError):
                pass
        return DevnetStatus(pid is not None, pid, self.rpc_url, chain_id, block, self.state_file)

    def up(self, timeout: float = 30.0) -> DevnetStatus:
        """Start anvil (or report the one already running). Idempotent."""
        current = self.status()
        if current.running:
            self._record_genesis(current.pid)
            return current
        anvil = anvil_binary()
        if not anvil.exists():
            raise EnvironmentProblem(f"anvil not found at {anvil}; run 'make setup' (needs Node.js and npm)")
        # A devnet killed a moment ago may still hold its socket while the kernel tears it down.
        settle = time.monotonic() + (2.0 if self.pid_file.exists() else 0.0)
        while port_in_use(self.host, self.port) and time.monotonic() < settle:
            time.sleep(0.1)
        if port_in_use(self.host, self.port):
            raise EnvironmentProblem(
                f"port {self.port} on {self.host} is already taken by another process; stop it or pass --rpc http://127.0.0.1:OTHER_PORT"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(anvil),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(CHAIN_ID),
            "--mnemonic",
            DEV_MNEMONIC,
            "--accounts",
            "12",
            "--balance",
            "10000",
            "--silent",
        ]
        if self.block_time is not None:
            cmd += ["--block-time", f"{self.block_time:g}"]
        # Extra anvil flags for diagnostics, e.g. "--steps-tracing" for opcode-level traces.
        cmd += shlex.split(os.environ.get("CARELEDGER_ANVIL_ARGS", ""))
        genesis = os.environ.get(GENESIS_TIMESTAMP_ENV, "").strip()
        fresh = not (self.persist and self.state_file.exists())
        if genesis and fresh:  # a kept chain has its own genesis
            if not genesis.isdigit():
                raise EnvironmentProblem(f"${GENESIS_TIMESTAMP_ENV} must be a unix time in seconds, not {genesis!r}")
            cmd += ["--timestamp", genesis]
        if self.persist:
            cmd += [
                "--state",
                str(self.state_file),
                "--state-interval",
                str(STATE_INTERVAL),
                "--preserve-historical-states",
            ]
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                tail = self.log_file.read_text(errors="replace")[-300:].strip().splitlines()
                raise EnvironmentProblem(f"anvil exited at start: {tail[-1] if tail else 'no output'}")
            try:
                _rpc(self.rpc_url, "eth_chainId", timeout=0.5)
                self._record_genesis(proc.pid)
                if fresh:
                    self._drop_stale_journal()
                return self.status()
            except requests.RequestException:
                time.sleep(0.05)
        self.down()
        raise NodeUnreachable(f"anvil did not answer on {self.rpc_url} within {timeout:.0f} s")

    def _record_genesis(self, pid: int | None) -> None:
        """Note this chain's block 0 hash as one the project started (careledger.devchain): what
        lets the test keys and the test token work here, and nowhere else."""
        from careledger.devchain import record

        block = _rpc(self.rpc_url, "eth_getBlockByNumber", ["0x0", False])
        if isinstance(block, dict) and pid is not None:
            genesis = str(block["hash"])
            (self.folder / "genesis").write_text(genesis + "\n")
            record(genesis, self.folder, pid=pid, persist=self.persist, rpc_url=self.rpc_url)

    def _drop_stale_journal(self) -> None:
        """A new chain starts with no send journal. Journals are keyed by chain id and genesis
        hash, and two devnets started at the same pinned genesis time have the same genesis, so a
        wiped one's journal would otherwise be taken for this chain's and its unmined
        transactions re-sent here (careledger.journal.default_journal)."""
        from careledger.journal import default_journal
        from careledger.rpc import RpcClient

        journal = default_journal(RpcClient(self.rpc_url), CHAIN_ID)
        for path in (journal, journal.with_name(journal.name + "-wal"), journal.with_name(journal.name + "-shm")):
            path.unlink(missing_ok=True)

    def down(self, timeout: float = 15.0) -> bool:
        """Stop anvil cleanly (SIGTERM makes it write its state). False if it was not running."""
        if not self.persist:  # its chain is gone with the process: no longer a known devnet
            from careledger.devchain import forget

            forget(self.folder)
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                # reap if it is our child
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def snapshot_info(self) -> dict[str, object]:
        """What is saved: size and age of the state file."""
        if not self.state_file.exists():
            return {"stateFile": str(self.state_file), "exists": False}
        st = self.state_file.stat()
        return {
            "stateFile": str(self.state_file),
            "exists": True,
            "bytes": st.st_size,
            "ageSeconds": round(time.time() - st.st_mtime, 1),
        }

    @staticmethod
    def describe_accounts() -> list[dict[str, object]]:
        from careledger.accounts import dev_accounts

        return [{"index": a.index, "name": a.name, "address": a.address, "label": a.label} for a in dev_accounts()]
