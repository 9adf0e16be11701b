#!/usr/bin/env python3
"""A throwaway PostgreSQL server for the index tests, from Debian's ``postgresql`` package.

    python tools/postgres.py install          # apt-get install postgresql, once (idempotent)
    python tools/postgres.py start DIR        # initdb + start a cluster in DIR, print its URL
    python tools/postgres.py stop DIR

``install`` does nothing when the server binaries are there, and otherwise needs apt-get and root
(or sudo). ``start`` runs the cluster on a free port with its socket in DIR, as the invoking user
(as the ``postgres`` user when run as root: PostgreSQL refuses to run as root), trust
authentication on 127.0.0.1 only, fsync off (a test cluster), and prints
``postgresql://postgres@127.0.0.1:PORT/postgres``. Importable: the tests call :func:`ensure`,
:func:`start` and :func:`stop` and skip with the reason :class:`Unavailable` carries.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Unavailable", "ensure", "start", "stop"]


class Unavailable(RuntimeError):
    """PostgreSQL cannot be installed or started here (the message says why)."""


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure() -> Path:
    """The server's bin folder, installing Debian's ``postgresql`` with apt-get when missing."""
    found = _bindir()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise Unavailable("PostgreSQL is not installed and apt-get is not available to install it")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise Unavailable("PostgreSQL is not installed and installing it needs root (or sudo)")
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
    ):
        proc = subprocess.run([*prefix, *cmd], capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise Unavailable(f"{' '.join(cmd[:2])} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    found = _bindir()
    if found is None:
        raise Unavailable("apt-get installed postgresql but initdb is not where Debian puts it")
    return found


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    # util-linux puts runuser in /usr/sbin, which a minimal PATH (a CI job's) may leave out.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise Unavailable("running as root without runuser: cannot start PostgreSQL as another user")
    return [runuser, "-u", "postgres", "--", *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path, timeout: float = 60.0) -> str:
    """Create and start a cluster in ``folder`` (which must not hold one); its URL."""
    bindir = ensure()
    folder = Path(folder).resolve()
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = lambda cmd: subprocess.run(_as_owner(cmd), capture_output=True, text=True, check=False)  # noqa: E731
    proc = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
    if proc.returncode != 0:
        raise Unavailable(f"initdb failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    port = _free_port()
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    proc = run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        ]
    )
    if proc.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-300:] if (folder / "server.log").exists() else ""
        raise Unavailable(f"pg_ctl start failed: {(proc.stderr or proc.stdout).strip()[-300:]} {log}")
    (folder / "port").write_text(str(port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"postgresql://postgres@127.0.0.1:{port}/postgres"
        except OSError:
            time.sleep(0.1)
    raise Unavailable(f"PostgreSQL did not accept connections on port {port} within {timeout:.0f} s")


def stop(folder: Path) -> None:
    bindir = _bindir()
    data = Path(folder).resolve() / "data"
    if bindir is None or not (data / "postmaster.pid").exists():
        return
    subprocess.run(
        _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
        capture_output=True,
        check=False,
    )


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["install"]:
            print(f"postgres: server binaries in {ensure()}")
        elif argv[:1] == ["start"] and len(argv) == 2:
            print(start(Path(argv[1])))
        elif argv[:1] == ["stop"] and len(argv) == 2:
            stop(Path(argv[1]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Unavailable as exc:
        print(f"postgres: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
