#!/usr/bin/env bash
# Generate, build and serve the CareLedger web client on 127.0.0.1.
#
#   frontend/serve.sh          build, then serve in the foreground (Ctrl-C stops)
#   frontend/serve.sh start    build, then serve in the background (pid in .devnet/frontend.pid)
#   frontend/serve.sh stop     stop the background server
#   frontend/serve.sh build    generate + build only (frontend/dist/)
#
# Environment: PORT (default 5173), CARELEDGER_RPC and CARELEDGER_RELAYER_URL (defaults the page
# uses; ?rpc=...&relayer=... in the URL still override them), CARELEDGER_DEPLOYMENTS_DIR. The
# server's POST /proofs (one unit's proof for a signed request; proof-service.mjs) reads
# CARELEDGER_RPC, CARELEDGER_DEPLOYMENTS_DIR and CARELEDGER_PROVENANCE_DIR too.
# Uses the repository's node_modules and .venv; installs nothing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PORT="${PORT:-5173}"
STATE_DIR="${CARELEDGER_DEVNET_DIR:-$ROOT/.devnet}"
PID_FILE="$STATE_DIR/frontend.pid"
LOG_FILE="$STATE_DIR/frontend.log"
PY="$ROOT/.venv/bin/python"
VITE="$ROOT/node_modules/.bin/vite"
export CARELEDGER_HOME="${CARELEDGER_HOME:-$ROOT}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

build() {
    [ -x "$VITE" ] || { echo "serve: $VITE missing; run 'make setup'" >&2; exit 1; }
    "$PY" "$HERE/generate.py"
    (cd "$HERE" && "$VITE" build --logLevel warn)
    echo "serve: built $HERE/dist"
}

running_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid; pid="$(cat "$PID_FILE")"
    kill -0 "$pid" 2>/dev/null && grep -q vite "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

case "${1:-run}" in
    build) build ;;
    run)
        build
        cd "$HERE"
        echo "serve: http://127.0.0.1:$PORT/"
        exec "$VITE" preview --host 127.0.0.1 --port "$PORT" --strictPort
        ;;
    start)
        if pid="$(running_pid)"; then echo "serve: already running (pid $pid) on http://127.0.0.1:$PORT/"; exit 0; fi
        build
        mkdir -p "$STATE_DIR"
        cd "$HERE"
        setsid "$VITE" preview --host 127.0.0.1 --port "$PORT" --strictPort >"$LOG_FILE" 2>&1 < /dev/null &
        echo $! > "$PID_FILE"
        for _ in $(seq 1 100); do
            if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
                echo "serve: web client on http://127.0.0.1:$PORT/ (pid $(cat "$PID_FILE"))"; exit 0
            fi
            kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break
            sleep 0.1
        done
        echo "serve: the web server did not start; see $LOG_FILE" >&2
        tail -5 "$LOG_FILE" >&2 || true
        exit 1
        ;;
    stop)
        if pid="$(running_pid)"; then
            kill "$pid"; rm -f "$PID_FILE"; echo "serve: stopped web client (pid $pid)"
        else
            rm -f "$PID_FILE"; echo "serve: web client was not running"
        fi
        ;;
    *) echo "usage: frontend/serve.sh [run|start|stop|build]" >&2; exit 2 ;;
esac
