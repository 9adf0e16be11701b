"""Generate the web client's data files from the build output and the deployments registry.

Writes ``frontend/src/generated/`` (git-ignored, never hand-edited):

- ``abis.json``        every deployable, non-test contract's ABI from ``.build/__local__.json``
- ``errors.json``      every custom error of the build (ABI items, de-duplicated) with its NatSpec
                       ``@notice``, so the page can explain a revert raised by any contract
- ``deployments.json`` ``deployments/<chainId>.json`` of every chain, keyed by chain id
- ``eip712.json``      EIP-712 domain names and types of signed actions (consent actions, proof
                       requests), from the domain SDKs
- ``codes.json``       the contracts' enums (member names in value order) and code tables (Purpose,
                       Category, Roles, Carc: name -> value), read from the build by
                       :mod:`careledger.abi` (the page imports them: frontend/src/codes.js)
- ``config.json``      default RPC and relayer URLs and the devnet cast (names, roles, addresses)

Run with the project's venv python (``source tools/env.sh`` first): ``python frontend/generate.py``.
Environment: ``CARELEDGER_RPC`` changes the default RPC URL the page uses (``?rpc=`` in the page
URL still overrides it; ``?relayer=`` points the page at a relayer directly instead of the web
server's ``/relayer`` proxy to ``$CARELEDGER_RELAYER_URL``);
``CARELEDGER_DEPLOYMENTS_DIR`` moves the deployments folder (as for the SDK);
``CARELEDGER_WEB_GENERATED`` moves the output folder (vite.config.js reads the same variable).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from careledger._paths import build_manifest, deployments_dir
from careledger.abi import constants, enums
from careledger.accounts import DEV_MNEMONIC, dev_accounts
from careledger.artifacts import abi_hash, load_artifacts
from careledger.deploy import domain_module
from careledger.exactjson import dumps

OUT = Path(os.environ.get("CARELEDGER_WEB_GENERATED") or Path(__file__).resolve().parent / "src" / "generated")
DEFAULT_RPC = "http://127.0.0.1:8545"
# The page talks to the relayer through the web server's /relayer proxy (vite.config.js), which
# forwards to $CARELEDGER_RELAYER_URL (default http://127.0.0.1:8600, `careledger relay serve`'s port).
DEFAULT_RELAYER = "./relayer"
# The index API (careledger index serve), through the web server's /index-api proxy likewise.
DEFAULT_INDEX = "./index-api"


def _signature(item: dict[str, Any]) -> str:
    def t(p: dict[str, Any]) -> str:
        if p["type"].startswith("tuple"):
            return "(" + ",".join(t(c) for c in p.get("components", [])) + ")" + p["type"][5:]
        return str(p["type"])

    return f"{item['name']}({','.join(t(p) for p in item.get('inputs', []))})"


def contracts_from_build(manifest: Path, deployed: set[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """ABIs of the suite's deployable contracts, plus any contract a deployments file names (the
    devnet's test stablecoin lives in contracts/test/), and every custom error of the build."""
    data = json.loads(manifest.read_text())
    abis: dict[str, Any] = {}
    errors: dict[str, dict[str, Any]] = {}
    for name, ct in sorted(data.get("contractTypes", {}).items()):
        source = str(ct.get("sourceId", ""))
        # Errors of every contract (interfaces included): a revert can come from any of them.
        notices = (ct.get("userdoc") or {}).get("errors", {})
        details = (ct.get("devdoc") or {}).get("errors", {})
        for item in ct.get("abi", []):
            if item.get("type") != "error":
                continue
            sig = _signature(item)
            doc = (notices.get(sig) or [{}])[0].get("notice") or (details.get(sig) or [{}])[0].get("details")
            if sig not in errors or (doc and not errors[sig].get("notice")):
                errors[sig] = {**item, "notice": doc or ""}
        bytecode = (ct.get("deploymentBytecode") or {}).get("bytecode") or "0x"
        if name not in deployed and (
            source.startswith("contracts/test/") or bytecode in ("", "0x") or not ct.get("abi")
        ):
            continue  # test-only contracts, interfaces and constant libraries are not deployed
        abis[name] = ct.get("abi", [])
    return abis, [errors[k] for k in sorted(errors)]


def deployments(folder: Path, by_hash: dict[str, str]) -> dict[str, Any]:
    """Every deployments file, keyed by chain id. Each contract also names its ``artifact``
    (found by ABI hash), since a contract may be recorded under a label of its own."""
    out: dict[str, Any] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        if not path.stem.isdigit():
            continue
        data = json.loads(path.read_text())
        out[str(int(data["chainId"]))] = {
            "genesisHash": data["genesisHash"],
            "contracts": {
                n: {"address": r["address"], "block": r["block"], "artifact": by_hash.get(r["abiHash"], n)}
                for n, r in data["contracts"].items()
            },
            "config": data.get("config", {}),
        }
    return out


def dev_genesis(deps: dict[str, Any]) -> list[str]:
    """Block 0 hashes of the deployed chains that are devnets this project started
    (careledger.devchain): the only chains where the page offers the public test keys. A chain
    id proves nothing (1337 and 31337 are also private PoA chains' ids)."""
    from careledger.devchain import started_by_project

    return sorted({str(d["genesisHash"]) for d in deps.values() if started_by_project(str(d["genesisHash"]))})


def config(deps: dict[str, Any]) -> dict[str, Any]:
    return {
        "rpcUrl": os.environ.get("CARELEDGER_RPC", DEFAULT_RPC),
        "relayerUrl": DEFAULT_RELAYER,
        "indexUrl": DEFAULT_INDEX,
        # The public test mnemonic (anvil's and Ape's): keys are derived in the browser, only on a
        # devnet this project started (recognised by its genesis block, never by chain id) and
        # only when no wallet is injected.
        "devMnemonic": DEV_MNEMONIC,
        "devGenesis": dev_genesis(deps),
        "cast": [
            {
                "index": a.index,
                "name": a.name,
                "label": a.label,
                "address": a.address,
                "role": a.role.name.lower() if a.role is not None else ("admin" if a.name == "admin" else "patient"),
            }
            for a in dev_accounts()
        ],
    }


def typed_data() -> dict[str, Any]:
    """EIP-712 domains and types of the signed actions, from the domain SDKs that define them
    (so the page signs exactly what the SDK and the contract hash)."""
    out: dict[str, Any] = {}
    consent = domain_module("consent", "eip712")
    if consent is not None:
        out["consent"] = {
            "name": consent.DOMAIN_NAME,
            "version": consent.DOMAIN_VERSION,
            "types": consent.TYPES,
            # Types whose nonce is the pair's action counter (pairNonce), not the signer's.
            "pairTypes": sorted(consent.PAIR_TYPES),
        }
    proofs = domain_module("provenance", "proofs")
    if proofs is not None:  # the web server's proof service (frontend/proof-service.mjs) and the page
        out["proof"] = {"name": proofs.DOMAIN_NAME, "version": proofs.DOMAIN_VERSION, "types": proofs.PROOF_TYPES}
    return out


# What the page shows by number: each enum by its short name, and the code tables.
ENUMS = {
    "ClaimStatus": "ClaimStatus",
    "Decision": "Decision",
    "BatchStatus": "IProvenanceRegistry.BatchStatus",
    "Verdict": "IProvenanceRegistry.Verdict",
}
TABLES = ("Purpose", "Category", "Roles", "Carc")


def codes() -> dict[str, Any]:
    """The enums and code tables of the contracts, from the build (careledger.abi): the page's
    code tables are never copied by hand (frontend/src/codes.js imports this)."""
    artifacts = load_artifacts()
    found, consts = enums(artifacts), constants(artifacts)
    return {
        "enums": {short: list(found[full]) for short, full in ENUMS.items()},
        "tables": {name: {k: int(v) for k, v in consts[name].items() if isinstance(v, int)} for name in TABLES},
    }


def write(name: str, data: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(dumps(data, indent=1, sort_keys=True) + "\n")  # exact JSON (docs/json.md)


def main() -> int:
    manifest = build_manifest()
    if not manifest.is_file():
        print(f"generate: no build output at {manifest}; run 'ape compile' (make build) first", file=sys.stderr)
        return 1
    types = json.loads(manifest.read_text()).get("contractTypes", {})
    by_hash = {abi_hash(ct.get("abi", [])): name for name, ct in types.items()}
    deps = deployments(deployments_dir(), by_hash)
    abis, errors = contracts_from_build(
        manifest, {c["artifact"] for d in deps.values() for c in d["contracts"].values()}
    )
    write("abis.json", abis)
    write("errors.json", errors)
    write("deployments.json", deps)
    write("config.json", config(deps))
    write("eip712.json", typed_data())
    write("codes.json", codes())
    chains = ", ".join(f"{cid} ({len(d['contracts'])} contracts)" for cid, d in deps.items()) or "none"
    print(f"generate: {len(abis)} ABIs, {len(errors)} custom errors, deployments: {chains} -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
