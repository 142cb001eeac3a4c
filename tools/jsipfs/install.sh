#!/usr/bin/env bash
# Installs js-ipfs (npm `ipfs`, pinned in package.json with the overrides it needs) into
# tools/jsipfs/node_modules: the real IPFS node the test suite runs, since no Kubo binary
# installs here. Idempotent: does nothing when node_modules/.bin/jsipfs exists and is newer
# than package.json. Needs npm (Node.js 18 or newer); ~300 MB, ~3 minutes the first time.
# Called by `./run setup` and .ci/run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$HERE/node_modules/.bin/jsipfs"

say() { printf 'jsipfs: %s\n' "$*" >&2; }

if [ -x "$BIN" ] && [ ! "$HERE/package.json" -nt "$BIN" ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    say "npm is not installed, so the test suite's IPFS node (js-ipfs) cannot be installed."
    say "Install Node.js 18+ with npm (Debian/Ubuntu: apt-get install nodejs npm), then run"
    say "./run setup again; or set IPFS_API_URL to a running Kubo node's RPC API."
    exit 1
fi

say "installing js-ipfs into tools/jsipfs/node_modules (npm install; a few minutes)"
cd "$HERE"
npm install --no-audit --no-fund --loglevel=error  # follows package-lock.json when it matches
touch "$BIN"  # newer than package.json: the next run skips
say "installed: $("$BIN" --version 2>/dev/null || echo "$BIN")"
