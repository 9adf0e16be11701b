# source tools/env.sh — put this checkout's tools first (venv, node_modules/.bin, solc) so that
# `ape`, `careledger`, `anvil` and the Python package all come from this folder.
_cl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_cl_root/.venv/bin:$_cl_root/node_modules/.bin:$PATH"
export SOLCX_BINARY_PATH="$_cl_root/.solcx"
export CARELEDGER_HOME="$_cl_root"
export PYTHONPATH="$_cl_root${PYTHONPATH:+:$PYTHONPATH}"
unset _cl_root
