"""Complete package-lock.json with the platform-specific optional packages the registry mirror
on our build machines does not serve.

Packages such as @foundry-rs/anvil and rollup ship one optional binary package per platform.
The npm mirror these machines reach serves only the linux-x64 ones, so `npm install` writes a
lockfile without entries for the others, and `npm ci` then refuses the lockfile as "out of sync".
This adds each missing entry with its version and the `os`/`cpu` (and `libc`) constraints taken
from its name, exactly as npm records them, so `npm ci` skips it on every other platform. Run it
after changing package.json: `npm install && python3 tools/complete-lockfile.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OS = {
    "darwin": "darwin",
    "linux": "linux",
    "win32": "win32",
    "android": "android",
    "freebsd": "freebsd",
    "openbsd": "openbsd",
    "openharmony": "openharmony",
    "aix": "aix",
    "sunos": "sunos",
    "netbsd": "netbsd",
}
CPU = {
    "amd64": "x64",
    "x64": "x64",
    "arm64": "arm64",
    "arm": "arm",
    "ia32": "ia32",
    "loong64": "loong64",
    "ppc64": "ppc64",
    "riscv64": "riscv64",
    "s390x": "s390x",
}


def constraints(name: str) -> dict[str, list[str]]:
    parts = name.split("/")[-1].replace("-eabi", "").split("-")
    out: dict[str, list[str]] = {}
    for p in parts:
        if p in OS and "os" not in out:
            out["os"] = [OS[p]]
        elif p in CPU and "cpu" not in out:
            out["cpu"] = [CPU[p]]
        elif p.startswith(("gnu", "musl")) and out.get("os") == ["linux"]:
            out["libc"] = ["glibc" if p.startswith("gnu") else "musl"]
    if p := next((x for x in parts if x.startswith("gnueabihf") or x.startswith("musleabihf")), None):
        out["cpu"] = ["arm"]
        out["libc"] = ["glibc" if p.startswith("gnu") else "musl"]
    return out


def main(path: Path) -> int:
    lock = json.loads(path.read_text())
    packages = lock["packages"]
    added = 0
    for _key, entry in list(packages.items()):
        for dep, version in (entry.get("optionalDependencies") or {}).items():
            target = f"node_modules/{dep}"
            c = constraints(dep)
            if target in packages or "os" not in c or "cpu" not in c:
                continue
            packages[target] = {"version": version.lstrip("~^"), "optional": True, **c}
            added += 1
    lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
    path.write_text(json.dumps(lock, indent=2) + "\n")
    print(f"complete-lockfile: added {added} platform entries to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "package-lock.json")))
