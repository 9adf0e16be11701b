"""An anvil this project did NOT start: a bare ``anvil`` process, as a user or another tool would
run it (no :class:`careledger.devnet.Devnet`, so no record of its genesis)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

import requests

from careledger.accounts import DEV_MNEMONIC
from careledger.devnet import anvil_binary, free_port


@contextlib.contextmanager
def plain_anvil(*args: str, chain_id: int = 31337) -> Iterator[str]:
    """Run ``anvil --chain-id CHAIN_ID --mnemonic <the public test mnemonic> ARGS`` on a free port;
    yields its RPC URL and stops it on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(anvil_binary()), "--port", str(port), "--chain-id", str(chain_id), "--mnemonic", DEV_MNEMONIC]
    proc = subprocess.Popen([*cmd, "--silent", *args], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"anvil exited with {proc.returncode}"
            try:
                requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=0.5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "anvil did not answer within 30 s"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
