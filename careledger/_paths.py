"""Where the project's generated files live (build output, deployments, devnet state)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["build_manifest", "deployments_dir", "devnet_dir", "node_bin", "project_root"]


def project_root() -> Path:
    """The checkout: ``$CARELEDGER_HOME``, else the folder above this package when it holds
    ``ape-config.yaml`` (an editable install), else the current directory."""
    env = os.environ.get("CARELEDGER_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "ape-config.yaml").is_file():
        return here
    return Path.cwd()


def build_manifest() -> Path:
    """Ape's compiler output (``ape compile``): ABIs and bytecode of every contract."""
    return project_root() / ".build" / "__local__.json"


def deployments_dir() -> Path:
    """``deployments/`` (``$CARELEDGER_DEPLOYMENTS_DIR`` moves it, e.g. for an ephemeral demo)."""
    env = os.environ.get("CARELEDGER_DEPLOYMENTS_DIR")
    return Path(env).resolve() if env else project_root() / "deployments"


def devnet_dir() -> Path:
    """``.devnet/``: anvil's persisted state, pid file and log."""
    env = os.environ.get("CARELEDGER_DEVNET_DIR")
    return Path(env).resolve() if env else project_root() / ".devnet"


def node_bin(name: str) -> Path:
    """An executable installed by ``npm ci`` (``node_modules/.bin/NAME``)."""
    return project_root() / "node_modules" / ".bin" / name
