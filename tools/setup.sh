#!/usr/bin/env bash
# make setup: install everything the project needs from its own pinned files, idempotently.
# A second run checks stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 5; }

command -v python3 >/dev/null || die "Python 3.11+ is required (python3 not found)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ is required (found $(python3 --version))"
command -v node >/dev/null || die "Node.js 20+ is required (node not found)"
command -v npm >/dev/null || die "npm is required (npm not found)"

# Stamps hold a digest of the pinned files they were installed from (not their times): a fresh
# checkout or a git worktree has new file times but the same pins, and must not reinstall.
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }
stale() { [[ ! -f "$1" || "$(cat "$1")" != "$2" ]]; }

# Python: a project-local virtualenv from requirements.lock.
py_pins=$(digest requirements.lock pyproject.toml)
if stale .venv/.stamp "$py_pins"; then
  echo "setup: Python virtualenv (.venv) from requirements.lock"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  # (this machine's pip config lists local mirrors that warn for every package they lack)
  .venv/bin/python -m pip install -q -r requirements.lock 2>&1 | { grep -v "^WARNING: Location" || true; }
  .venv/bin/python -m pip install -q --no-deps -e . 2>/dev/null
  echo "$py_pins" > .venv/.stamp
fi

# Node: exactly package-lock.json.
node_pins=$(digest package-lock.json)
if stale node_modules/.stamp "$node_pins"; then
  echo "setup: npm ci (package-lock.json)"
  # (after changing package.json: npm install && python3 tools/complete-lockfile.py)
  npm ci --no-audit --no-fund --loglevel=error
  echo "$node_pins" > node_modules/.stamp
fi
[[ -x node_modules/.bin/anvil ]] || die "node_modules/.bin/anvil missing after npm ci"

# Solidity compiler.
SOLCX_BINARY_PATH="$PWD/.solcx" .venv/bin/python tools/solc/install.py
