#!/usr/bin/env bash
# The desktop app end to end under Xvfb, in a private D-Bus session, with a temporary HOME,
# config and port (the user's own config and keyring are never touched):
#   1. tray-quit: the proxy answers /status, the window is mapped and rendered (screenshot to
#      docs/screenshots/desktop-main.png), an MCP initialize + tools/call echo goes through the
#      proxy to the demo server the app started, then "Quit" is clicked in the tray menu over
#      D-Bus (com.canonical.dbusmenu): the app exits 0 and leaves no demo-server behind.
#   2. tray-menu: the tray's switches over D-Bus: the proxy off (/status refuses connections)
#      and on, the demo server off (its endpoint answers 404) and on, "Start at login" (the
#      XDG autostart entry), "Copy endpoint URL"; the labels follow the state; Quit leaves no
#      child; a second launch exits 0 and shows the first one's window. Prints
#      "tray: N passed, M failed".
#   3. window-close: closing the window (WM_DELETE_WINDOW, as a close button sends) destroys
#      it and WebKit's web process exits, while the app and the proxy keep running; "Open
#      Switchboard" in the tray, and then a second launch, bring it back rendered.
#   4. sigterm: the same shutdown on SIGTERM.
# Needs the packages of scripts/install-system-deps.sh. Env: CARGO_TARGET_DIR (default
# ./target), SMOKE_PORT (default 17345 if free, else any free port), SMOKE_SCREENSHOT.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/testing.sh
source "$REPO/scripts/lib/testing.sh"
START_TIMEOUT=60 # seconds until /status answers (first start of WebKit can be slow)
EXIT_TIMEOUT=20  # seconds from Quit/SIGTERM to the process being gone
CASE_TIMEOUT=240 # seconds for one whole case (its own waits are bounded; this is the backstop)

# ImageMagick's own convert: some machines put a different `convert` first on PATH.
CONVERT=/usr/bin/convert
[ -x "$CONVERT" ] || CONVERT=convert

log() { printf '[desktop-smoke] %s\n' "$*" >&2; }


# ===================================================================== inside Xvfb + D-Bus ===

# Each case runs in its own subshell: `fail` records why and ends it.
APP=""

fail() {
    printf '%s\n' "$*" >"$SMOKE_SCRATCH/reason"
    exit 1
}

# What the case is doing now, for the report when it is cut by its timeout.
step() { printf '%s\n' "$*" >"$SMOKE_SCRATCH/step"; }

app_alive() { [ -n "$APP" ] && kill -0 "$APP" 2>/dev/null; }
app_gone() { ! app_alive; }

# A failed case must not leave its app running.
kill_app() {
    if app_alive; then
        kill -KILL "$APP" 2>/dev/null || true
        wait "$APP" 2>/dev/null || true
    fi
}

status_answers() {
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$SWITCHBOARD_PORT/status" 2>/dev/null
}

start_app() {
    local logfile=$1
    step "starting the app"
    "$SMOKE_BIN" >"$logfile" 2>&1 &
    APP=$!
    log "started switchboard-desktop (pid $APP) on port $SWITCHBOARD_PORT"
    wait_for "$START_TIMEOUT" status_or_dead || fail "GET /status did not answer within ${START_TIMEOUT}s"
    app_alive || fail "the app exited during startup"
}

status_or_dead() { status_answers || ! app_alive; }

# Demo servers started by *this* run: their HOME is our temporary one (the supervisor passes
# HOME through to children), so a concurrent run or a real Switchboard is never counted.
own_demo_servers() { pids_with_home "$HOME" 'demo-server'; }

no_own_demo_servers() { [ -z "$(own_demo_servers)" ]; }

# The start of a file, on one line.
excerpt() { head -c 300 "$1" | tr -s '\r\n' '  '; }

# POSTs a JSON-RPC message to the demo server; headers in $1.headers, body in $1.body.
mcp_post() {
    local out=$1 body=$2
    shift 2
    curl -sS --max-time 10 -D "$out.headers" -o "$out.body" \
        -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' \
        -H "authorization: Bearer $SWITCHBOARD_API_KEY" \
        "$@" --data "$body" "http://127.0.0.1:$SWITCHBOARD_PORT/servers/demo/mcp"
}

# initialize, notifications/initialized, tools/call echo: proves the core runs in the app.
mcp_echo() {
    local dir=$SMOKE_SCRATCH/mcp-$1 session message="hello from the desktop smoke $$"
    mkdir -p "$dir"
    step "MCP initialize + tools/call echo"
    mcp_post "$dir/init" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"desktop-smoke","version":"1"}}}' ||
        fail "initialize: curl failed"
    grep -q '"serverInfo"' "$dir/init.body" || fail "initialize: no serverInfo in: $(excerpt "$dir/init.body")"
    session=$(tr -d '\r' <"$dir/init.headers" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: *//p' | head -1)
    [ -n "$session" ] || fail "initialize: no mcp-session-id header"
    mcp_post "$dir/initialized" '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
        -H "mcp-session-id: $session" -H 'mcp-protocol-version: 2025-06-18' ||
        fail "notifications/initialized: curl failed"
    mcp_post "$dir/call" "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"$message\"}}}" \
        -H "mcp-session-id: $session" -H 'mcp-protocol-version: 2025-06-18' ||
        fail "tools/call: curl failed"
    grep -qF "$message" "$dir/call.body" || fail "tools/call echo: unexpected reply: $(excerpt "$dir/call.body")"
    [ -n "$(own_demo_servers)" ] || fail "no demo-server child of this app is running after tools/call"
    log "MCP initialize + tools/call echo through the proxy: ok"
}

main_window() { timeout 10 xdotool search --onlyvisible --name '^Switchboard$' 2>/dev/null | head -1; }
window_mapped() { [ -n "$(main_window)" ]; }

# A blank (still loading) page is one colour; the rendered one has text, cards and the logo.
window_rendered() {
    timeout 15 import -window "$(main_window)" "$SMOKE_SCRATCH/window.png" 2>/dev/null &&
        [ "$(identify -format '%k' "$SMOKE_SCRATCH/window.png" 2>/dev/null || echo 0)" -gt 50 ]
}

# The tray menu of $APP over D-Bus (tray_* in lib/testing.sh).
tray_find() { tray_find_for "$APP"; }

tray_click_quit() { tray_find && tray_click Quit; }

# Waits for the app to exit on its own; it must exit 0 and leave no demo-server behind.
expect_clean_exit() {
    local rc=0
    step "waiting for the app to exit"
    wait_for "$EXIT_TIMEOUT" app_gone || fail "the app did not exit within ${EXIT_TIMEOUT}s"
    wait "$APP" || rc=$?
    APP=""
    [ "$rc" -eq 0 ] || fail "the app exited with status $rc"
    wait_for 5 no_own_demo_servers || fail "demo-server processes left behind: $(own_demo_servers | tr '\n' ' ')"
    log "the app exited 0 and no demo-server is left"
}

case_tray_quit() {
    start_app "$SMOKE_SCRATCH/app-tray-quit.log"
    step "waiting for the window"
    wait_for 20 window_mapped || fail "no visible window named Switchboard"
    log "window $(main_window) is mapped"
    wait_for 20 window_rendered || fail "the window stayed blank (page not rendered)"
    mkdir -p "$(dirname "$SMOKE_SCREENSHOT")"
    # No metadata (dates), so an unchanged picture gives an unchanged file.
    timeout 15 import -window root "$SMOKE_SCRATCH/root.png" && "$CONVERT" "$SMOKE_SCRATCH/root.png" -strip "$SMOKE_SCREENSHOT" ||
        fail "screenshot failed"
    log "screenshot: $SMOKE_SCREENSHOT"
    mcp_echo tray-quit
    wait_for 10 tray_click_quit || fail "no tray menu with a Quit item on the session bus"
    expect_clean_exit
}

# The tray's switches, each checked through the proxy itself and through the menu's labels.
# Every check is counted (tray: N passed, M failed); the case fails if any check did.
tray_check() {
    local what=$1
    shift
    if "$@"; then
        echo "PASS $what" >>"$SMOKE_SCRATCH/tray-results"
        log "tray ok: $what"
    else
        echo "FAIL $what (menu: $(tray_labels))" >>"$SMOKE_SCRATCH/tray-results"
        log "tray FAIL: $what (menu: $(tray_labels))"
    fi
}

status_refused() { ! status_answers; }

# The HTTP status of an initialize POSTed to the demo server.
demo_http_code() {
    curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        -H "authorization: Bearer $SWITCHBOARD_API_KEY" \
        --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"desktop-smoke","version":"1"}}}' \
        "http://127.0.0.1:$SWITCHBOARD_PORT/servers/demo/mcp"
}
demo_is_404() { [ "$(demo_http_code)" = 404 ]; }
demo_answers() { [ "$(demo_http_code)" = 200 ]; }

# Where "Start at login" writes (XDG_CONFIG_HOME is the temporary one).
autostart_entry() { echo "$XDG_CONFIG_HOME/autostart/switchboard.desktop"; }
autostart_on() { [ -f "$(autostart_entry)" ]; }
autostart_off() { [ ! -e "$(autostart_entry)" ]; }

app_log_has() { grep -qF -- "$1" "$SMOKE_SCRATCH/app-tray-menu.log"; }

case_tray_menu() {
    local demo='demo — '
    start_app "$SMOKE_SCRATCH/app-tray-menu.log"
    wait_for 20 tray_find || fail "no tray menu of this app on the session bus"
    log "tray menu: $TRAY_DEST $TRAY_MENU"
    step "the tray menu's checks"
    tray_check "menu shows 'Proxy: on'" wait_for 10 tray_has 'Proxy: on'
    tray_check "menu shows '${demo}idle' before any client" tray_has "${demo}idle"
    for label in 'Open Switchboard' 'Start at login' 'Copy endpoint URL' 'Quit'; do
        tray_check "menu has '$label'" tray_has "$label"
    done

    mcp_echo tray-menu
    tray_check "label follows a session: '${demo}running, 1 session'" \
        wait_for 10 tray_has "${demo}running, [0-9]+ sessions?"

    tray_click 'Proxy: on' || fail "no 'Proxy: on' item to click"
    tray_check "proxy off: /status refuses connections" wait_for 10 status_refused
    tray_check "proxy off: menu shows 'Proxy: off'" wait_for 10 tray_has 'Proxy: off'
    tray_check "proxy off: the demo server's child stopped" wait_for 10 no_own_demo_servers
    tray_click 'Proxy: off' || fail "no 'Proxy: off' item to click"
    tray_check "proxy on again: /status answers" wait_for 10 status_answers
    tray_check "proxy on again: menu shows 'Proxy: on'" wait_for 10 tray_has 'Proxy: on'

    tray_click "${demo}[^']*" || fail "no demo server item to click"
    tray_check "server off: its endpoint answers 404" wait_for 10 demo_is_404
    tray_check "server off: menu shows '${demo}off'" wait_for 10 tray_has "${demo}off"
    tray_click "${demo}off" || fail "no '${demo}off' item to click"
    tray_check "server on again: menu shows '${demo}idle'" wait_for 10 tray_has "${demo}idle"
    tray_check "server on again: its endpoint answers initialize" wait_for 10 demo_answers

    tray_click 'Start at login' || fail "no 'Start at login' item to click"
    tray_check "start at login: autostart entry written" wait_for 10 autostart_on
    tray_click 'Start at login' || fail "no 'Start at login' item to click"
    tray_check "start at login off: autostart entry removed" wait_for 10 autostart_off

    tray_click 'demo' || fail "no 'demo' item under 'Copy endpoint URL'"
    tray_check "copy endpoint URL: copied to the clipboard" \
        wait_for 10 app_log_has "copied http://127.0.0.1:$SWITCHBOARD_PORT/servers/demo/mcp"

    # One instance at a time: a second launch hands over to this one and exits.
    local second_rc=0
    timeout 30 "$SMOKE_BIN" >"$SMOKE_SCRATCH/app-second.log" 2>&1 || second_rc=$?
    tray_check "a second launch exits 0 (status $second_rc)" [ "$second_rc" -eq 0 ]
    tray_check "the first instance shows its window for the second launch" \
        wait_for 10 app_log_has "another launch: showing the window"
    tray_check "the first instance stays up" app_alive

    tray_click Quit || fail "no Quit item to click"
    expect_clean_exit
    echo "PASS Quit: exit 0, no child left" >>"$SMOKE_SCRATCH/tray-results"
    if grep -q '^FAIL' "$SMOKE_SCRATCH/tray-results"; then
        fail "$(grep -c '^FAIL' "$SMOKE_SCRATCH/tray-results") tray check(s) failed"
    fi
}

# WebKit renders the page in a process of its own; it must not outlive the window.
web_processes() { pids_with_home "$HOME" 'WebKitWebProcess'; }
has_web_process() { [ -n "$(web_processes)" ]; }
no_web_process() { [ -z "$(web_processes)" ]; }
window_gone() { ! window_mapped; }
close_window() { timeout 10 python3 "$REPO/scripts/lib/close-window.py" "$(main_window)"; }

# Closes the window and checks that it is gone with its web process, and the app is not.
close_and_check() {
    step "closing the window"
    close_window || fail "cannot send the window a close request"
    wait_for 10 window_gone || fail "the window is still mapped after a close request"
    wait_for 20 no_web_process || fail "WebKit's web process outlived the window: $(web_processes | tr '\n' ' ')"
    app_alive || fail "the app exited when its window was closed"
    status_answers || fail "the proxy stopped answering when the window was closed"
    log "window closed: no web process left, the app and the proxy run on"
}

expect_window_back() {
    step "waiting for $1 to bring the window back"
    wait_for 20 window_mapped || fail "$1 did not bring the window back"
    wait_for 20 window_rendered || fail "the window $1 opened stayed blank"
    has_web_process || fail "the window $1 opened has no web process"
    log "$1 brought the window back, rendered"
}

case_window_close() {
    start_app "$SMOKE_SCRATCH/app-window-close.log"
    wait_for 20 window_mapped || fail "no visible window named Switchboard"
    wait_for 20 window_rendered || fail "the window stayed blank (page not rendered)"
    has_web_process || fail "no WebKitWebProcess while the window is open"
    close_and_check
    step "clicking the tray's 'Open Switchboard'"
    wait_for 20 tray_find || fail "no tray menu of this app on the session bus"
    tray_click 'Open Switchboard' || fail "no 'Open Switchboard' item to click"
    expect_window_back "the tray's 'Open Switchboard'"
    close_and_check
    step "a second launch"
    timeout 30 "$SMOKE_BIN" >"$SMOKE_SCRATCH/app-second-window.log" 2>&1 || fail "a second launch failed"
    expect_window_back "a second launch"
    tray_click Quit || fail "no Quit item to click"
    expect_clean_exit
}

case_sigterm() {
    start_app "$SMOKE_SCRATCH/app-sigterm.log"
    mcp_echo sigterm
    kill -TERM "$APP"
    expect_clean_exit
}

# One case in a process of its own (the script again, with --case NAME), so a case that
# hangs is cut at CASE_TIMEOUT, reported with the step it was at, and the next case runs.
run_case() {
    local name=$1
    trap kill_app EXIT
    # timeout's TERM must still run the EXIT trap (kill the app) and say where it was.
    trap 'printf "timed out after %ss at: %s\n" "$CASE_TIMEOUT" "$(cat "$SMOKE_SCRATCH/step" 2>/dev/null)" >"$SMOKE_SCRATCH/reason"; exit 124' TERM
    "case_${name//-/_}"
}

inside() {
    local results=$SMOKE_SCRATCH/results name reason rc
    for name in tray-quit tray-menu window-close sigterm; do
        rm -f "$SMOKE_SCRATCH/reason" "$SMOKE_SCRATCH/step"
        log "case $name"
        rc=0
        timeout --kill-after=10 "$CASE_TIMEOUT" bash "$REPO/scripts/desktop-smoke.sh" --case "$name" || rc=$?
        if [ "$rc" -eq 0 ]; then
            echo "PASS $name" >>"$results"
        else
            reason=$(cat "$SMOKE_SCRATCH/reason" 2>/dev/null ||
                echo "exit $rc at: $(cat "$SMOKE_SCRATCH/step" 2>/dev/null || echo 'unknown step')")
            echo "FAIL $name: $reason" >>"$results"
            log "FAIL $name: $reason"
            log "last lines of the app's log:"
            tail -n 20 "$SMOKE_SCRATCH/app-$name.log" >&2 2>/dev/null || true
        fi
        # A case cut by the timeout may leave its app behind; the next one needs the port.
        kill_with_home "$HOME" 'switchboard-desktop'
    done
}

case "${1:-}" in
--inside)
    inside
    exit 0
    ;;
--case)
    run_case "$2"
    exit 0
    ;;
esac

# ============================================================================ outside ===

CASES=4 # tray-quit, tray-menu, window-close, sigterm

cd "$REPO"
passed=0
failed=0
report() {
    printf 'desktop smoke: %d passed, %d failed\n' "$passed" "$failed"
}

missing=()
for tool in cargo xvfb-run dbus-run-session xdotool import "$CONVERT" identify gdbus curl pgrep python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "missing tools: ${missing[*]} (run scripts/install-system-deps.sh)"
    failed=1
    report
    exit 1
fi

log "building switchboard-desktop"
if ! cargo build -p switchboard-desktop --locked; then
    log "the build failed"
    failed=1
    report
    exit 1
fi
# Where cargo put it: CARGO_TARGET_DIR, a .cargo/config.toml target-dir, else ./target.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR=${TARGET_DIR:-${CARGO_TARGET_DIR:-target}}
SMOKE_BIN="$(cd "$TARGET_DIR" && pwd)/debug/switchboard-desktop"

SMOKE_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/desktop-smoke.XXXXXX")
# Backstop for an aborted run: our processes are the ones with our temporary HOME.
cleanup() {
    kill_with_home "$SMOKE_SCRATCH/home" 'switchboard-desktop'
    rm -rf "$SMOKE_SCRATCH"
}
trap cleanup EXIT
mkdir -p "$SMOKE_SCRATCH/home" "$SMOKE_SCRATCH/config" "$SMOKE_SCRATCH/data" "$SMOKE_SCRATCH/cache" "$SMOKE_SCRATCH/run"
chmod 700 "$SMOKE_SCRATCH/run"

# The docs screenshot shows the default port when it is free, so it does not change per run.
if [ -n "${SMOKE_PORT:-}" ]; then
    port=$SMOKE_PORT
elif port_is_free 17345; then
    port=17345
else
    port=$(free_port) || {
        log "no free port found"
        failed=1
        report
        exit 1
    }
fi

# Something else answering /status on our port would pass for the app.
if ! port_is_free "$port"; then
    log "port $port is in use; choose another with SMOKE_PORT"
    failed=1
    report
    exit 1
fi

export SMOKE_BIN SMOKE_SCRATCH
export SMOKE_SCREENSHOT=${SMOKE_SCREENSHOT:-$REPO/docs/screenshots/desktop-main.png}
export HOME=$SMOKE_SCRATCH/home XDG_CONFIG_HOME=$SMOKE_SCRATCH/config XDG_DATA_HOME=$SMOKE_SCRATCH/data \
    XDG_CACHE_HOME=$SMOKE_SCRATCH/cache XDG_RUNTIME_DIR=$SMOKE_SCRATCH/run
export SWITCHBOARD_CONFIG=$SMOKE_SCRATCH/config/switchboard/config.json SWITCHBOARD_PORT=$port
# The private D-Bus session has no unlocked keyring, so the key is given explicitly.
SWITCHBOARD_API_KEY="sbk_smoke-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SWITCHBOARD_API_KEY
export NO_AT_BRIDGE=1 RUST_LOG=${RUST_LOG:-info}

log "running under xvfb-run + dbus-run-session (scratch $SMOKE_SCRATCH)"
# dbus-run-session: without a private bus, GTK autolaunches D-Bus and at-spi daemons that
# outlive the app. The outer timeout is only a backstop; every wait inside is bounded.
set +e
timeout --kill-after=10 $((CASES * (CASE_TIMEOUT + 15) + 30)) \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- bash "$REPO/scripts/desktop-smoke.sh" --inside 2>&1 |
    grep --line-buffered -v -e '^dbus-daemon\[' -e 'SpiRegistry daemon' >&2
set -e

if [ -f "$SMOKE_SCRATCH/results" ]; then
    passed=$(grep -c '^PASS' "$SMOKE_SCRATCH/results" || true)
    failed=$(grep -c '^FAIL' "$SMOKE_SCRATCH/results" || true)
    sed 's/^/  /' "$SMOKE_SCRATCH/results" >&2
fi
if [ -f "$SMOKE_SCRATCH/tray-results" ]; then
    grep '^FAIL' "$SMOKE_SCRATCH/tray-results" | sed 's/^/  tray /' >&2 || true
    printf 'tray: %d passed, %d failed\n' "$(grep -c '^PASS' "$SMOKE_SCRATCH/tray-results" || true)" \
        "$(grep -c '^FAIL' "$SMOKE_SCRATCH/tray-results" || true)"
else
    printf 'tray: 0 passed, 1 failed (the tray case did not run)\n'
fi
# Every case must have reported; anything else (a crash, the backstop timeout) is a failure.
if [ "$((passed + failed))" -lt "$CASES" ]; then
    failed=$((CASES - passed))
fi
report
[ "$failed" -eq 0 ]
