#!/usr/bin/env bash
# Black-box client suites (tests/clients): installs the pinned tools into .tools/ (fast when they
# are already there), makes sure the switchboard binary is built, then runs pytest with the
# test venv's python. Exits non-zero when a test fails. Extra arguments go to pytest, e.g.
#   scripts/test-clients.sh -k conformance
# Environment: SWITCHBOARD_BIN (use this binary, skip the build), CARGO_TARGET_DIR (honoured),
# SKIP_CARGO_BUILD=1 (use whatever target/debug/switchboard is there).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash "$REPO/scripts/install-test-tools.sh"

if [ -z "${SWITCHBOARD_BIN:-}" ] && [ "${SKIP_CARGO_BUILD:-0}" != "1" ]; then
    echo "[test-clients] cargo build -p switchboard-cli (and the OAuth conformance client)" >&2
    cargo build --quiet -p switchboard-cli
    cargo build --quiet -p switchboard-blackbox --bin oauth-conformance-client
fi

exec "$REPO/.tools/venv/bin/python" -m pytest "$REPO/tests/clients" -q -rxX "$@"
