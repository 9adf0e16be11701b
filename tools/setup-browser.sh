#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/frontend), once. Idempotent: does
# nothing when /usr/bin/chromium is already there. playwright-core drives it; its own browser
# download ("npx playwright install") does not work on these machines.
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    echo "setup-browser: chromium present ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: chromium is missing and apt-get is not available; install Chromium and set CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup-browser: need root (or sudo) to apt-get install chromium" >&2; exit 1
    fi
fi
echo "setup-browser: installing chromium with apt-get (one time)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "setup-browser: apt-get update failed" >&2; exit 1; }
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || { echo "setup-browser: apt-get install chromium failed" >&2; exit 1; }
[ -x "$CHROMIUM" ] || { echo "setup-browser: apt-get finished but $CHROMIUM is missing" >&2; exit 1; }
echo "setup-browser: chromium installed ($("$CHROMIUM" --version 2>/dev/null))"
