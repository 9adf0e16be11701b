"""The compiler: whichever solc `make setup` installed (native or the solc-js adapter) produces
the committed bytecode, and the adapter behaves like native solc for what the tools call."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import solcx
from eth_utils import keccak

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((ROOT / "tests" / "data" / "toolchain_probe.json").read_text())
# The compiler `make setup` installed for py-solc-x (native solc, or the adapter where native
# cannot be downloaded) ...
SOLC = Path(os.environ.get("SOLCX_BINARY_PATH", ROOT / ".solcx")) / f"solc-v{EXPECTED['solc']}"
# ... and the adapter itself, whose native-like behaviour is tested whichever is installed.
ADAPTER = ["node", str(ROOT / "tools" / "solc" / "solc-adapter.js")]


def _probe_input(source: str) -> dict[str, object]:
    return {
        "language": "Solidity",
        "sources": {"ToolchainProbe.sol": {"content": source}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def test_probe_source_unchanged():
    source = (ROOT / "contracts" / "test" / "ToolchainProbe.sol").read_text()
    assert "0x" + keccak(text=source).hex() == EXPECTED["sourceKeccak"], (
        "ToolchainProbe.sol changed: re-record the hashes"
    )


def test_compiler_output_matches_committed_bytecode_hash():
    source = (ROOT / "contracts" / "test" / "ToolchainProbe.sol").read_text()
    out = solcx.compile_standard(_probe_input(source), solc_binary=SOLC)
    evm = out["contracts"]["ToolchainProbe.sol"]["ToolchainProbe"]["evm"]
    assert "0x" + keccak(hexstr=evm["bytecode"]["object"]).hex() == EXPECTED["bytecodeKeccak"]
    assert "0x" + keccak(hexstr=evm["deployedBytecode"]["object"]).hex() == EXPECTED["deployedBytecodeKeccak"]


def test_adapter_reports_version_like_native_solc():
    out = subprocess.run([*ADAPTER, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1].startswith(f"Version: {EXPECTED['solc']}+commit.")
    assert out.strip().endswith(".Linux.g++")
    assert solcx.wrapper.get_solc_version(SOLC).base_version == EXPECTED["solc"]


def test_adapter_resolves_imports_through_base_and_include_paths(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "lib" / "pkg").mkdir(parents=True)
    (tmp_path / "lib" / "pkg" / "Dep.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
        "library Dep { function one() internal pure returns (uint256) { return 1; } }\n"
    )
    main = (
        '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport {Dep} from "pkg/Dep.sol";\n'
        "contract Main { function f() external pure returns (uint256) { return Dep.one(); } }\n"
    )
    request = {
        "language": "Solidity",
        "sources": {"Main.sol": {"content": main}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    proc = subprocess.run(
        [
            *ADAPTER,
            "--standard-json",
            "--base-path",
            str(tmp_path / "base"),
            "--include-path",
            str(tmp_path / "lib"),
            "--allow-paths",
            str(tmp_path),
        ],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"], result.get("errors")
    assert "Main" in result["contracts"]["Main.sol"]


def test_adapter_reports_missing_import_as_compiler_error(tmp_path):
    main = '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport "nowhere/X.sol";\ncontract M {}\n'
    request = {
        "language": "Solidity",
        "sources": {"M.sol": {"content": main}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    proc = subprocess.run(
        [*ADAPTER, "--standard-json", "--base-path", str(tmp_path)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    errors = json.loads(proc.stdout)["errors"]
    assert any(e["severity"] == "error" and "not found" in e["message"] for e in errors)


@pytest.mark.parametrize("flag", ["--bin", "--optimize"])
def test_adapter_refuses_unsupported_options_clearly(flag):
    proc = subprocess.run([*ADAPTER, flag], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unsupported option" in proc.stderr
