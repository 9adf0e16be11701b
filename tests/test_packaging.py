"""The package installs what it imports.

Every third-party module the ``careledger`` package imports (found by walking the syntax tree of
every module, imports inside functions included) is declared by the built wheel: in its core
``Requires-Dist`` when the import is unconditional, in the extra named by the surrounding
``with needs_extra("<extra>", ...)`` block otherwise. ``requirements.lock`` pins every declared
package at a version inside its declared range.

Then the wheel is installed into a fresh virtual environment with only its core dependencies
(the versions of ``requirements.lock``, given as constraints): ``careledger --help`` and every
command's ``--help`` work, ``drugs verify`` refuses a malformed scan with exit 2 and one line, and
each optional part answers with one line naming its extra (exit 5). With ``[all,demo]`` added,
those parts work: ``drugs verify --image`` reads a DataMatrix written by the same install.

Needs PyPI (or the machine's configured index) for the dependencies: about 40 s on 2 cores.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "careledger"
LOCK = ROOT / "requirements.lock"
SELF = "careledger"


# ---------------------------------------------------------------------------- the inventory


@dataclass(frozen=True)
class Import:
    module: str  # top-level module name, e.g. "fastapi"
    where: str  # careledger/consent/relay.py:23
    extra: str | None  # the extra of the enclosing needs_extra block, None when unconditional


def _needs_extra_name(node: ast.With) -> str | None:
    for item in node.items:
        call = item.context_expr
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "needs_extra"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            return call.args[0].value
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def third_party_imports() -> list[Import]:
    """Every import of a module outside the standard library and the package, at any depth
    (module level, functions, methods, try blocks); ``if TYPE_CHECKING:`` blocks never run."""
    found: list[Import] = []

    def visit(node: ast.AST, path: Path, extra: str | None) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, path, extra)
            return
        if isinstance(node, ast.With):
            extra = _needs_extra_name(node) or extra
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != SELF:
                found.append(Import(top, f"{path.relative_to(ROOT)}:{node.lineno}", extra))
        for child in ast.iter_child_nodes(node):
            visit(child, path, extra)

    for path in sorted(PACKAGE.rglob("*.py")):
        visit(ast.parse(path.read_text(), str(path)), path, None)
    return found


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    """The distributions (canonical names) that provide a top-level module, from the
    environment `make setup` installed from requirements.lock."""
    return {canonicalize_name(d) for d in _module_distributions().get(module, [])}


# ---------------------------------------------------------------------------- declarations


def _resolve(requirements: dict[str | None, list[Requirement]], extra: str | None, seen: set[str]) -> set[str]:
    """Canonical names of what installing ``careledger[extra]`` adds (core when extra is None),
    following self-references such as ``careledger[relay,fhir]``."""
    names: set[str] = set()
    for req in requirements.get(extra, []):
        if canonicalize_name(req.name) == SELF:
            for sub in sorted(req.extras):
                if sub not in seen:
                    seen.add(sub)
                    names |= _resolve(requirements, sub, seen)
        else:
            names.add(canonicalize_name(req.name))
    return names


def wheel_requirements(wheel: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(core distributions, {extra: distributions it adds}) from the wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(name).decode())
    extras = meta.get_all("Provides-Extra") or []
    by_extra: dict[str | None, list[Requirement]] = {}
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None:
            by_extra.setdefault(None, []).append(req)
            continue
        owners = [e for e in extras if req.marker.evaluate({"extra": e})]
        assert owners, f"Requires-Dist {line!r} belongs to no extra"
        for e in owners:
            by_extra.setdefault(e, []).append(req)
    core = _resolve(by_extra, None, set())
    return core, {e: _resolve(by_extra, e, {e}) | core for e in extras}


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra_reqs in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra_reqs]
    return [r for r in reqs if canonicalize_name(r.name) != SELF]


def lock_pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock line {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_inventory_sees_lazy_and_optional_imports():
    imports = third_party_imports()
    modules = {i.module for i in imports}
    # Imported inside functions or needs_extra blocks: the walk must reach them.
    assert {"web3", "click", "biip", "zxingcpp", "PIL", "fastapi", "uvicorn", "fhir", "cryptography"} <= modules
    assert {i.extra for i in imports if i.module == "zxingcpp"} == {"scan"}
    assert {i.extra for i in imports if i.module == "biip"} == {None}


def test_lock_pins_every_declared_dependency_inside_its_range():
    pins = lock_pins()
    problems = []
    for req in pyproject_requirements():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is declared but requirements.lock does not pin it")
        elif not req.specifier.contains(pin):
            problems.append(f"{req} is declared but requirements.lock pins {req.name}=={pin}")
    assert problems == []


# ---------------------------------------------------------------------------- the wheel


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (like an sdist) so the build writes nothing
    into the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copy2(ROOT / "README.md", src)
    shutil.copytree(PACKAGE, src / SELF, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)], cwd=work)
    (built,) = (work / "dist").glob("careledger-*.whl")
    return built


def test_wheel_declares_every_import(wheel):
    core, extras = wheel_requirements(wheel)
    problems = []
    for imp in third_party_imports():
        dists = distributions_of(imp.module)
        if not dists:
            problems.append(f"{imp.where}: {imp.module!r} is not installed by requirements.lock")
        elif imp.extra is None:
            if not dists & core:
                problems.append(
                    f"{imp.where}: imports {imp.module!r} ({'/'.join(sorted(dists))}) unconditionally, but the "
                    "wheel's core dependencies lack it (declare it, or import it inside needs_extra)"
                )
        elif imp.extra not in extras:
            problems.append(f"{imp.where}: needs_extra({imp.extra!r}) names no extra of the wheel")
        elif not dists & extras[imp.extra]:
            problems.append(f"{imp.where}: {imp.module!r} is not among the packages of careledger[{imp.extra}]")
    assert problems == []
    # The packaged modules are the checkout's, and nothing optional slipped into the core.
    with zipfile.ZipFile(wheel) as zf:
        packaged = {n for n in zf.namelist() if n.startswith(f"{SELF}/") and n.endswith(".py")}
    assert packaged == {str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")}
    assert not core & {"fastapi", "uvicorn", "zxing-cpp", "pillow", "fhir-resources", "eth-ape", "pytest"}


# ---------------------------------------------------------------------------- a fresh install

# Walks the command tree inside the fresh environment and runs each command's --help.
_HELP_WALK = """
import contextlib, io, json, click
from careledger.cli.main import cli, run

def walk(path, command, ctx):
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            yield from walk([*path, name], sub, click.Context(sub, info_name=name, parent=ctx))

codes = {}
for path in walk([], cli, click.Context(cli, info_name="careledger")):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([*path, "--help"])
    codes[" ".join(path) or "(top)"] = [code, out.getvalue()[:40], err.getvalue()[-300:]]
print(json.dumps(codes))
"""

# Each optional part, used without its extra, raises MissingExtra naming the extra.
_MISSING_EXTRAS = """
import json
from pathlib import Path
from careledger.errors import MissingExtra

def attempt(fn):
    try:
        fn()
    except MissingExtra as exc:
        return ["missing", exc.extra, exc.exit_code, str(exc)]
    except Exception as exc:
        return ["raised", type(exc).__name__]
    return ["ok"]

def imp(name):
    return lambda: __import__(name)

def fhir_consent():
    from careledger.consent.fhir import validate
    validate({})

def fhir_claim():
    from careledger.claims.fhir import validate
    validate({})

def image():
    from careledger.provenance.gs1 import write_datamatrix
    write_datamatrix("0109506000134352", Path("x.png"))

print(json.dumps({
    "relay": attempt(imp("careledger.consent.relay")),
    "demo": attempt(imp("careledger.consent.demo")),
    "fhir-consent": attempt(fhir_consent),
    "fhir-claim": attempt(fhir_claim),
    "scan": attempt(image),
}))
"""

MALFORMED_SCAN = "(01)09506000134352(17)301231(10)L1"  # no serial (21): not a unit's code


class FreshEnv:
    """A virtual environment with nothing but what pip installs into it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.venv = root / "venv"
        # No pip inside (the checkout's pip installs into it): only the wheel and its dependencies.
        _run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)], cwd=root)
        self.python = self.venv / "bin" / "python"

    def pip(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "pip", "--python", str(self.python), *args]
        _run(cmd, cwd=self.root)

    def install(self, target: str) -> None:
        # requirements.lock as constraints: the same versions `make setup` installs.
        self.pip("install", "-q", "--no-input", "-c", str(LOCK), target)

    def installed(self) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "list", "--format=json"],
            capture_output=True,
            text=True,
            check=True,
        )
        return {canonicalize_name(d["name"]) for d in json.loads(done.stdout)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command in the environment: its own bin first, an empty HOME, no project settings,
        run from outside the checkout (so the checkout's package cannot be imported)."""
        env = {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8"}
        return subprocess.run(list(args), cwd=self.home, env=env, capture_output=True, text=True, timeout=120)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0]


def test_fresh_install_with_declared_dependencies_only(wheel, tmp_path):
    env = FreshEnv(tmp_path)
    env.install(str(wheel))
    env.pip("check")
    installed = env.installed()
    # Only the core was installed: no distribution of an optional part.
    optional = {d for imp in third_party_imports() if imp.extra for d in distributions_of(imp.module)}
    assert SELF in installed
    assert installed & optional == set()

    done = env.run("careledger", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("consent", "claims", "drugs", "records", "relay", "directory", "devnet", "deploy"):
        assert f"\n  {command} " in done.stdout

    done = env.run("python", "-c", _HELP_WALK)
    assert done.returncode == 0, done.stderr
    helps = json.loads(done.stdout)
    assert len(helps) > 40  # every group and subcommand, not just the top
    failed = {path: (code, err) for path, (code, out, err) in helps.items() if code != 0 or "Usage:" not in out}
    assert failed == {}

    done = env.run("careledger", "consent", "export-fhir", "--help")
    assert done.returncode == 0, done.stderr
    assert "FHIR" in done.stdout

    done = env.run("careledger", "drugs", "verify", MALFORMED_SCAN)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "serial" in _one_line_error(done)
    assert done.stdout == ""

    # Optional parts without their extras: one line naming the extra, exit 5.
    done = env.run("careledger", "drugs", "verify", "--image", str(env.home / "unit.png"))
    assert done.returncode == 5
    assert "pip install 'careledger[scan]'" in _one_line_error(done)
    done = env.run("careledger", "relay", "serve")
    assert done.returncode == 5
    assert "pip install 'careledger[relay]'" in _one_line_error(done)
    done = env.run("python", "-c", _MISSING_EXTRAS)
    assert done.returncode == 0, done.stderr
    missing = json.loads(done.stdout)
    assert {part: answer[:2] for part, answer in missing.items()} == {
        "relay": ["missing", "relay"],
        "demo": ["missing", "relay"],  # the relayer is the first thing the demo story imports
        "fhir-consent": ["missing", "fhir"],
        "fhir-claim": ["missing", "fhir"],
        "scan": ["missing", "scan"],
    }
    assert all(answer[2] == 5 and "\n" not in answer[3] for answer in missing.values())

    # With the extras, the same parts work.
    env.install(f"{wheel}[all,demo]")
    env.pip("check")
    image = env.home / "no-serial.png"
    done = env.run(
        "python",
        "-c",
        "import sys; from pathlib import Path; from careledger.provenance import gs1; "
        "gs1.write_datamatrix(sys.argv[1], Path(sys.argv[2]))",
        "01095060001343521730123110L1",  # GTIN, expiry, lot: no serial
        str(image),
    )
    assert done.returncode == 0, done.stderr
    done = env.run("careledger", "drugs", "verify", "--image", str(image))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "serial" in _one_line_error(done)
    done = env.run("python", "-c", _MISSING_EXTRAS)
    assert done.returncode == 0, done.stderr
    missing = json.loads(done.stdout)
    assert missing == {
        "relay": ["ok"],
        "demo": ["ok"],
        "fhir-consent": ["raised", "ValidationError"],  # fhir.resources ran: {} is no Consent
        "fhir-claim": ["raised", "ValidationError"],
        "scan": ["ok"],
    }
