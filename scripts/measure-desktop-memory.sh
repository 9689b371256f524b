#!/usr/bin/env bash
# The desktop app's memory with its window open and after the window is closed: the PSS
# (proportional set size: each shared page counted in equal parts to the processes that map
# it) of switchboard-desktop and of the WebKit processes it starts, summed from
# /proc/<pid>/smaps_rollup. Runs the app under Xvfb in a private D-Bus session with a
# temporary HOME and the first-run config (the demo server, idle), like desktop-smoke.sh.
# Results: BENCHMARKS.md, "Desktop app memory". Not part of scripts/test.sh.
#
# Usage: scripts/measure-desktop-memory.sh [BINARY]
#   BINARY defaults to the release build ($CARGO_TARGET_DIR or ./target)/release/switchboard-desktop;
#   build it first: cargo build --release -p switchboard-desktop
# Env: SETTLE (seconds to wait before each reading, default 15).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/testing.sh
source "$REPO/scripts/lib/testing.sh"

log() { printf '[measure-memory] %s\n' "$*" >&2; }

# ===================================================================== inside Xvfb + D-Bus ===

main_window() { xdotool search --onlyvisible --name '^Switchboard$' 2>/dev/null | head -1; }
window_mapped() { [ -n "$(main_window)" ]; }
window_gone() { ! window_mapped; }
status_answers() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$SWITCHBOARD_PORT/status" 2>/dev/null; }

pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

# Sums the PSS of the given pids, in KiB.
sum_pss() {
    local total=0 pid
    for pid in "$@"; do total=$((total + $(pss_kib "$pid"))); done
    echo "$total"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# One line: the app, WebKit's web and network processes (ours: they carry our HOME), total.
reading() {
    local what=$1 app web net
    app=$(sum_pss "$APP")
    # shellcheck disable=SC2046 # one pid per word
    web=$(sum_pss $(pids_with_home "$HOME" 'WebKitWebProcess'))
    # shellcheck disable=SC2046
    net=$(sum_pss $(pids_with_home "$HOME" 'WebKitNetworkProcess'))
    printf '%-13s app %4s MiB  web process %4s MiB  network process %4s MiB  total %4s MiB\n' \
        "$what:" "$(mib "$app")" "$(mib "$web")" "$(mib "$net")" "$(mib $((app + web + net)))"
}

inside() {
    "$BINARY" >"$SCRATCH/app.log" 2>&1 &
    APP=$!
    trap 'kill -TERM "$APP" 2>/dev/null || true; wait "$APP" 2>/dev/null || true' EXIT
    wait_for 60 status_answers || { log "the app did not start; its log:"; tail -20 "$SCRATCH/app.log" >&2; exit 1; }
    wait_for 30 window_mapped || { log "no window"; exit 1; }
    log "window mapped; settling for ${SETTLE}s"
    sleep "$SETTLE"
    reading "window open"
    python3 "$REPO/scripts/lib/close-window.py" "$(main_window)"
    wait_for 10 window_gone || { log "the window did not close"; exit 1; }
    log "window closed; settling for ${SETTLE}s"
    sleep "$SETTLE"
    kill -0 "$APP" 2>/dev/null || { log "the app exited when its window closed"; exit 1; }
    reading "window closed"
}

if [ "${1:-}" = "--inside" ]; then
    inside
    exit 0
fi

# ============================================================================ outside ===

TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
BINARY=$(realpath "${1:-$TARGET_DIR/release/switchboard-desktop}")
[ -x "$BINARY" ] || { log "no binary at $BINARY (cargo build --release -p switchboard-desktop)"; exit 1; }
for tool in xvfb-run dbus-run-session xdotool curl pgrep python3; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool (run scripts/install-system-deps.sh)"; exit 1; }
done

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/measure-memory.XXXXXX")
cleanup() {
    kill_with_home "$SCRATCH/home" 'switchboard-desktop|WebKit'
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
mkdir -p "$SCRATCH/home" "$SCRATCH/config" "$SCRATCH/data" "$SCRATCH/cache" "$SCRATCH/run"
chmod 700 "$SCRATCH/run"
port=$(free_port) || { log "no free port"; exit 1; }

export BINARY SCRATCH SETTLE=${SETTLE:-15}
export HOME=$SCRATCH/home XDG_CONFIG_HOME=$SCRATCH/config XDG_DATA_HOME=$SCRATCH/data \
    XDG_CACHE_HOME=$SCRATCH/cache XDG_RUNTIME_DIR=$SCRATCH/run
export SWITCHBOARD_CONFIG=$SCRATCH/config/switchboard/config.json SWITCHBOARD_PORT=$port
# No keyring in the private session: the key is given, as in desktop-smoke.sh.
SWITCHBOARD_API_KEY="sbk_measure-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SWITCHBOARD_API_KEY NO_AT_BRIDGE=1 RUST_LOG=${RUST_LOG:-warn}

log "measuring $BINARY under xvfb-run + dbus-run-session"
timeout --kill-after=10 300 \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- bash "$REPO/scripts/measure-desktop-memory.sh" --inside 2> >(grep --line-buffered -v -e '^dbus-daemon\[' -e 'SpiRegistry daemon' >&2)
