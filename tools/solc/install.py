"""Make solc $SOLC_VERSION available to py-solc-x (and so to ape-solidity and Slither).

1. Already installed in $SOLCX_BINARY_PATH (native or adapter)? Nothing to do.
2. Try py-solc-x's native download (works for a user with internet access).
3. Otherwise install the solc-js adapter (tools/solc/solc-adapter.js) under the name py-solc-x
   looks for, ``solc-v<version>``. Both give the same bytecode (tests/test_toolchain.py).
"""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

VERSION = os.environ.get("SOLC_VERSION", "0.8.28")
ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    target_dir = Path(os.environ.get("SOLCX_BINARY_PATH", ROOT / ".solcx"))
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"solc-v{VERSION}"
    if target.exists():
        return 0
    import solcx

    socket.setdefaulttimeout(10)
    try:
        solcx.install_solc(VERSION, solcx_binary_path=target_dir)
        print(f"solc {VERSION}: native compiler installed by py-solc-x in {target_dir}")
        return 0
    except Exception as exc:  # noqa: BLE001 - any failure means "no download here"
        print(f"solc {VERSION}: native download unavailable ({type(exc).__name__}); installing the solc-js adapter")
    adapter = ROOT / "tools" / "solc" / "solc-adapter.js"
    target.write_text(f'#!/bin/sh\nexec node "{adapter}" "$@"\n')
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"solc {VERSION}: solc-js adapter installed as {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
