#!/usr/bin/env bash
# Installs NBC's KHQR SDK (npm `bakong-khqr`, pinned in package.json) into
# tools/khqr/node_modules: the independent decoder the test suite checks every generated KHQR
# with (tools/khqr/khqr.js). Idempotent: does nothing when the package is installed and newer
# than package.json. Needs npm (Node.js 18 or newer); a few hundred KB, seconds.
# Called by `./run setup` and .ci/run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MARK="$HERE/node_modules/bakong-khqr/package.json"

say() { printf 'khqr: %s\n' "$*" >&2; }

if [ -f "$MARK" ] && [ ! "$HERE/package.json" -nt "$MARK" ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    say "npm is not installed, so the suite's KHQR decoder (npm bakong-khqr) cannot be installed."
    say "Install Node.js 18+ with npm (Debian/Ubuntu: apt-get install nodejs npm), then run"
    say "./run setup again."
    exit 1
fi

say "installing bakong-khqr into tools/khqr/node_modules (npm install)"
cd "$HERE"
npm install --no-audit --no-fund --loglevel=error
touch "$MARK"  # newer than package.json: the next run skips
