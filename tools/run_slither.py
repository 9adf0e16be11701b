"""Static analysis gate: Slither over every contract, failing on unreviewed high/medium findings.

Slither is driven through the installed compiler (native solc or the solc-js adapter) with
``--solc-standard-json``. Its directory mode only globs one folder, so this script writes an
entry file importing every contract under contracts/ (test doubles excluded) and analyses that.

Reviewed findings live in ``security/slither-reviewed.json``: each entry names the detector, the
contract element, and the reason it is accepted. A finding not listed there fails the gate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REVIEWED = ROOT / "security" / "slither-reviewed.json"
SOLC = Path(os.environ.get("SOLCX_BINARY_PATH", ROOT / ".solcx")) / "solc-v0.8.28"
GATED_IMPACTS = {"High", "Medium"}


def _sources() -> list[Path]:
    out = []
    for path in sorted((ROOT / "contracts").rglob("*.sol")):
        rel = path.relative_to(ROOT / "contracts")
        if rel.parts[0] in {".deps", ".cache", "test"}:
            continue
        out.append(path)
    return out


def _key(result: dict[str, object]) -> str:
    elements = result.get("elements") or []
    first = elements[0] if elements else {}
    name = first.get("name", "?") if isinstance(first, dict) else "?"
    parent = ""
    if isinstance(first, dict):
        tsd = first.get("type_specific_fields") or {}
        par = tsd.get("parent") if isinstance(tsd, dict) else None
        if isinstance(par, dict):
            parent = str(par.get("name", "")) + "."
    return f"{result['check']}:{parent}{name}"


def main() -> int:
    reviewed = json.loads(REVIEWED.read_text()) if REVIEWED.exists() else {"reviewed": []}
    accepted = {entry["finding"]: entry["reason"] for entry in reviewed["reviewed"]}
    with tempfile.TemporaryDirectory(dir=ROOT / ".build", prefix="slither-") as tmp:
        entry = Path(tmp) / "AllContracts.sol"
        imports = "\n".join(f'import "{os.path.relpath(p, tmp)}";' for p in _sources())
        entry.write_text(f"// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.24;\n{imports}\n")
        out = Path(tmp) / "slither.json"
        cmd = [
            str(Path(sys.executable).parent / "slither"),
            tmp,
            "--solc",
            str(SOLC),
            "--solc-standard-json",
            "--solc-remaps",
            "@openzeppelin/contracts=node_modules/@openzeppelin/contracts",
            "--filter-paths",
            "node_modules|contracts/.deps|contracts/test",
            "--exclude-informational",
            "--exclude-optimization",
            "--exclude-low",
            "--json",
            str(out),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if not out.exists():
            print(proc.stderr[-2000:], file=sys.stderr)
            print("slither: analysis did not run", file=sys.stderr)
            return 1
        data = json.loads(out.read_text())
    if not data.get("success"):
        print(f"slither: failed: {data.get('error')}", file=sys.stderr)
        return 1
    findings = [r for r in data["results"].get("detectors", []) if r.get("impact") in GATED_IMPACTS]
    unreviewed = []
    for r in findings:
        key = _key(r)
        if key in accepted:
            print(f"slither: reviewed  {r['impact']:<6} {key}: {accepted[key]}")
        else:
            unreviewed.append((r, key))
    for r, key in unreviewed:
        first_line = str(r.get("description", "")).strip().splitlines()[0]
        print(f"slither: UNREVIEWED {r['impact']:<6} {key}\n    {first_line}", file=sys.stderr)
    print(
        f"slither: {len(_sources())} contract files, {len(findings)} high/medium findings, {len(unreviewed)} unreviewed"
    )
    return 1 if unreviewed else 0


if __name__ == "__main__":
    sys.exit(main())
