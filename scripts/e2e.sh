#!/usr/bin/env bash
# The desktop window end to end over WebDriver (e2e/tests/ui.rs): WebKitWebDriver drives the
# real switchboard-desktop binary, built from this tree, under Xvfb in a private D-Bus session
# with a fresh, unlocked gnome-keyring and a temporary HOME (your own config and keyring are
# never touched). Screenshots of the main screens go to docs/screenshots/.
# Needs the packages of scripts/install-system-deps.sh plus WebKitWebDriver (webkit2gtk-driver).
# Env: CARGO_TARGET_DIR (default ./target), E2E_SHOTS (screenshot dir, default
# docs/screenshots; empty for none), SWITCHBOARD_E2E_ONLY (run only matching cases).
# Prints "e2e: N passed, M failed" last and exits non-zero on failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/testing.sh
source "$REPO/scripts/lib/testing.sh"
cd "$REPO"

log() { printf '[e2e] %s\n' "$*" >&2; }
fail_early() {
    log "$*"
    echo "e2e: 0 passed, 1 failed"
    exit 1
}

if [ "${1:-}" = "--inside" ]; then
    # Inside dbus-run-session: a private keyring for the secrets, then the tests.
    printf 'e2e-keyring-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$E2E_TEST_BIN"
fi

for tool in cargo xvfb-run dbus-run-session WebKitWebDriver gnome-keyring-daemon xdotool gdbus python3 curl; do
    command -v "$tool" >/dev/null || fail_early "missing tool: $tool (run scripts/install-system-deps.sh; WebKitWebDriver is in webkit2gtk-driver)"
done

log "building switchboard-desktop, the fixture servers and the e2e tests"
cargo build -p switchboard-desktop --locked || fail_early "building switchboard-desktop failed"
cargo build -p switchboard-blackbox --bin fixture-server --locked || fail_early "building fixture-server failed"
# The OAuth case's remote server, with its authorization server; curl plays the browser.
cargo build -p switchboard-blackbox --bin oauth-fixture --locked || fail_early "building oauth-fixture failed"
# The test binary's path, from cargo's own report.
E2E_TEST_BIN=$(cargo test -p switchboard-e2e --test ui --no-run --locked --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$E2E_TEST_BIN" ] || fail_early "building the e2e tests failed"

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR=${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}
TARGET_DIR=$(cd "$TARGET_DIR" && pwd)

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-e2e.XXXXXX")
# Backstop for an aborted run: our processes are the ones with our temporary HOME.
cleanup() {
    kill_with_home "$SCRATCH/home" 'switchboard-desktop|WebKitWebDriver|fixture-server|oauth-fixture'
    [ -n "${E2E_KEEP_SCRATCH:-}" ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT
mkdir -p "$SCRATCH/home" "$SCRATCH/config" "$SCRATCH/data" "$SCRATCH/cache" "$SCRATCH/run"
chmod 700 "$SCRATCH/run"

export E2E_TEST_BIN
export SWITCHBOARD_E2E_APP=$TARGET_DIR/debug/switchboard-desktop
export SWITCHBOARD_E2E_FIXTURE=$TARGET_DIR/debug/fixture-server
export SWITCHBOARD_E2E_OAUTH_FIXTURE=$TARGET_DIR/debug/oauth-fixture
export SWITCHBOARD_E2E_SCRATCH=$SCRATCH
SHOTS=${E2E_SHOTS-$REPO/docs/screenshots}
if [ -n "$SHOTS" ]; then
    mkdir -p "$SHOTS"
    SWITCHBOARD_E2E_SHOTS=$(cd "$SHOTS" && pwd)
    export SWITCHBOARD_E2E_SHOTS
fi
export HOME=$SCRATCH/home XDG_CONFIG_HOME=$SCRATCH/config XDG_DATA_HOME=$SCRATCH/data \
    XDG_CACHE_HOME=$SCRATCH/cache XDG_RUNTIME_DIR=$SCRATCH/run
# The app's key is given explicitly, so the tests can call the endpoints with it.
SWITCHBOARD_API_KEY="sbk_e2e-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SWITCHBOARD_API_KEY
# Child stderr at info: the secrets case checks that what a child prints is redacted.
export NO_AT_BRIDGE=1 RUST_LOG=${RUST_LOG:-warn,switchboard::child::stderr=info}

log "running under xvfb-run + dbus-run-session (scratch $SCRATCH)"
set +e
timeout --kill-after=10 600 \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- bash "$REPO/scripts/e2e.sh" --inside >"$SCRATCH/out" 2> >(grep --line-buffered -v -e '^dbus-daemon\[' -e 'SpiRegistry daemon' >&2)
rc=$?
set -e
[ -z "${E2E_KEEP_SCRATCH:-}" ] || log "scratch kept: $SCRATCH"
grep -v -e 'SpiRegistry daemon' -e '^dbus-daemon\[' "$SCRATCH/out" || true
if ! grep -q '^e2e: [0-9]* passed, [0-9]* failed$' "$SCRATCH/out"; then
    # A crash or the backstop timeout: no summary line from the tests.
    log "the tests did not finish (exit status $rc)"
    echo "e2e: 0 passed, 1 failed"
    exit 1
fi
exit "$rc"
