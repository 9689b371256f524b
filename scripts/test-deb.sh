#!/usr/bin/env bash
# Tests the Debian package for real: builds it with scripts/package-deb.sh (or takes the
# .deb given as $1), checks its metadata and contents (dpkg-deb -I/-c), installs it with
# `apt-get install ./…deb`, launches the INSTALLED /usr/bin/switchboard-desktop under Xvfb in
# a private D-Bus session with a temporary HOME/XDG dirs, port, API key and config (a demo
# server run by the packaged /usr/bin/switchboard), checks GET /status, an MCP initialize +
# tools/call echo through /servers/demo/mcp and the same through `switchboard connect`
# (stdio), stops the app with SIGTERM (exit 0, no child left), and purges the package again
# (also on failure or Ctrl-C), together with any dependency the install pulled in.
# Prints "deb: N passed, M failed" last; exits non-zero on any failure.
# Needs: root or sudo, apt/dpkg, and the packages of scripts/install-system-deps.sh (xvfb-run,
# dbus-run-session, curl, pgrep), plus what scripts/package-deb.sh needs when it builds.
# Refuses to run when a package named switchboard is already installed (it would be purged).
# Usage: scripts/test-deb.sh [PATH/TO/switchboard.deb]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/testing.sh
source "$REPO/scripts/lib/testing.sh"
PKG=switchboard       # the Debian package name (kebab-case of productName)
START_TIMEOUT=60      # seconds until /status answers (the first WebKit start can be slow)
EXIT_TIMEOUT=20       # seconds from SIGTERM to the process being gone
APT_TIMEOUT=600       # seconds for apt-get install / purge

log() { printf '[test-deb] %s\n' "$*" >&2; }


# Records one check: check NAME CMD… (the check passes when CMD succeeds).
check() {
    local what=$1
    shift
    if "$@"; then
        echo "PASS $what" >>"$TEST_DEB_SCRATCH/results"
        log "ok: $what"
    else
        echo "FAIL $what" >>"$TEST_DEB_SCRATCH/results"
        log "FAIL: $what"
    fi
}

# Processes of this run (HOME is our temporary one) that the package runs: the app, the
# packaged CLI (demo server, connect) and WebKit's helpers.
own_processes() {
    local pid exe
    for pid in $(pids_with_home "$TEST_DEB_SCRATCH/home" 'switchboard|WebKit'); do
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
        case "$exe" in
        /usr/bin/switchboard | /usr/bin/switchboard-desktop | */webkit2gtk-4.1/*) echo "$pid" ;;
        esac
    done
}

# ===================================================================== inside Xvfb + D-Bus ===

APP=""
app_alive() { [ -n "$APP" ] && kill -0 "$APP" 2>/dev/null; }
app_gone() { ! app_alive; }
status_answers() {
    curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$SWITCHBOARD_PORT/status" 2>/dev/null
}
status_or_dead() { status_answers || ! app_alive; }
no_own_processes() { [ -z "$(own_processes)" ]; }

# The demo server the app started is the packaged CLI.
demo_is_packaged_cli() {
    local pid
    for pid in $(own_processes); do
        [ "$(readlink "/proc/$pid/exe")" = /usr/bin/switchboard ] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'demo-server' && return 0
    done
    return 1
}

# POSTs a JSON-RPC message to the demo server through the proxy.
mcp_post() {
    local out=$1 body=$2
    shift 2
    curl -sS --max-time 10 -D "$out.headers" -o "$out.body" \
        -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' \
        -H "authorization: Bearer $SWITCHBOARD_API_KEY" \
        "$@" --data "$body" "http://127.0.0.1:$SWITCHBOARD_PORT/servers/demo/mcp"
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test-deb","version":"1"}}}'
INITIALIZED='{"jsonrpc":"2.0","method":"notifications/initialized"}'
echo_call() { printf '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"%s"}}}' "$1"; }

# initialize, notifications/initialized, tools/call echo over Streamable HTTP.
mcp_echo_http() {
    local dir=$TEST_DEB_SCRATCH/mcp message="hello from test-deb $$" session
    mkdir -p "$dir"
    mcp_post "$dir/init" "$INIT" || return 1
    grep -q '"serverInfo"' "$dir/init.body" || {
        log "initialize answered: $(head -c 300 "$dir/init.body")"
        return 1
    }
    session=$(tr -d '\r' <"$dir/init.headers" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: *//p' | head -1)
    [ -n "$session" ] || {
        log "initialize: no mcp-session-id header"
        return 1
    }
    mcp_post "$dir/initialized" "$INITIALIZED" -H "mcp-session-id: $session" \
        -H 'mcp-protocol-version: 2025-06-18' || return 1
    mcp_post "$dir/call" "$(echo_call "$message")" -H "mcp-session-id: $session" \
        -H 'mcp-protocol-version: 2025-06-18' || return 1
    grep -qF "$message" "$dir/call.body" || {
        log "tools/call answered: $(head -c 300 "$dir/call.body")"
        return 1
    }
}

# The same through `switchboard connect demo` (the stdio bridge Claude Desktop starts).
mcp_echo_connect() {
    local out=$TEST_DEB_SCRATCH/connect.out message="hello over stdio $$"
    {
        printf '%s\n' "$INIT"
        sleep 1
        printf '%s\n' "$INITIALIZED"
        printf '%s\n' "$(echo_call "$message")"
        sleep 3
    } | timeout 20 /usr/bin/switchboard connect demo --config "$SWITCHBOARD_CONFIG" \
        --port "$SWITCHBOARD_PORT" >"$out" 2>"$TEST_DEB_SCRATCH/connect.err" || true
    grep -qF "$message" "$out" || {
        log "connect printed: $(head -c 300 "$out") / stderr: $(head -c 300 "$TEST_DEB_SCRATCH/connect.err")"
        return 1
    }
}

sigterm_exits_0() {
    local rc=0
    kill -TERM "$APP"
    wait_for "$EXIT_TIMEOUT" app_gone || return 1
    wait "$APP" || rc=$?
    APP=""
    [ "$rc" -eq 0 ] || {
        log "the app exited with status $rc"
        return 1
    }
}

inside() {
    trap 'if app_alive; then kill -KILL "$APP"; fi' EXIT
    /usr/bin/switchboard-desktop >"$TEST_DEB_SCRATCH/app.log" 2>&1 &
    APP=$!
    log "started /usr/bin/switchboard-desktop (pid $APP) on port $SWITCHBOARD_PORT"
    wait_for "$START_TIMEOUT" status_or_dead || true
    check "the installed app answers GET /status within ${START_TIMEOUT}s" status_answers
    if ! status_answers && command -v ss >/dev/null; then
        log "listening on port $SWITCHBOARD_PORT: $(ss -Hltnp "sport = :$SWITCHBOARD_PORT" 2>/dev/null | tr -s ' ')"
    fi
    if ! app_alive; then
        check "the installed app stays up" false
        check "no switchboard/demo-server/WebKit process left" wait_for 10 no_own_processes
        log "last lines of the app's log:"
        tail -n 20 "$TEST_DEB_SCRATCH/app.log" >&2
        return
    fi
    check "MCP initialize + tools/call echo through /servers/demo/mcp" mcp_echo_http
    check "the demo server runs as /usr/bin/switchboard demo-server" demo_is_packaged_cli
    check "MCP echo through /usr/bin/switchboard connect demo (stdio)" mcp_echo_connect
    check "SIGTERM: the app exits 0 within ${EXIT_TIMEOUT}s" sigterm_exits_0
    check "no switchboard/demo-server/WebKit process left" wait_for 10 no_own_processes
    if grep -q '^FAIL' "$TEST_DEB_SCRATCH/results"; then
        log "last lines of the app's log:"
        tail -n 20 "$TEST_DEB_SCRATCH/app.log" >&2
    fi
}

if [ "${1:-}" = "--inside" ]; then
    inside
    exit 0
fi

# ============================================================================ outside ===

cd "$REPO"
passed=0
failed=0
report() {
    if [ -n "${TEST_DEB_SCRATCH:-}" ] && [ -f "$TEST_DEB_SCRATCH/results" ]; then
        passed=$(grep -c '^PASS' "$TEST_DEB_SCRATCH/results" || true)
        failed=$(grep -c '^FAIL' "$TEST_DEB_SCRATCH/results" || true)
    fi
    printf 'deb: %d passed, %d failed\n' "$passed" "$failed"
}
abort() {
    log "$*"
    echo "FAIL $*" >>"$TEST_DEB_SCRATCH/results"
    exit 1
}

TEST_DEB_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/test-deb.XXXXXX")
export TEST_DEB_SCRATCH
: >"$TEST_DEB_SCRATCH/results"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || abort "needs root or sudo (apt-get install/purge)"
    SUDO=(sudo)
fi

INSTALLED_BY_US=()
cleanup() {
    local rc=$? pid
    for pid in $(own_processes); do kill -KILL "$pid" 2>/dev/null || true; done
    if [ ${#INSTALLED_BY_US[@]} -gt 0 ]; then
        log "purging ${INSTALLED_BY_US[*]}"
        if timeout "$APT_TIMEOUT" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get purge -y -q "${INSTALLED_BY_US[@]}" >"$TEST_DEB_SCRATCH/purge.log" 2>&1; then
            INSTALLED_BY_US=()
        else
            tail -n 20 "$TEST_DEB_SCRATCH/purge.log" >&2
            echo "FAIL cleanup: apt-get purge ${INSTALLED_BY_US[*]}" >>"$TEST_DEB_SCRATCH/results"
        fi
    fi
    report
    rm -rf "$TEST_DEB_SCRATCH"
    if [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ]; then rc=1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
for tool in dpkg-deb dpkg-query apt-get xvfb-run dbus-run-session curl pgrep timeout; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || abort "missing tools: ${missing[*]} (run scripts/install-system-deps.sh)"

is_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
is_installed "$PKG" && abort "the package $PKG is already installed; purge it first (this test would remove it)"

# -------------------------------------------------------------------------- the package ---
if [ $# -ge 1 ]; then
    DEB=$1
else
    log "building the package (scripts/package-deb.sh)"
    DEB=$("$REPO/scripts/package-deb.sh" | tail -n 1) || abort "scripts/package-deb.sh failed"
fi
[ -f "$DEB" ] || abort "no such .deb: $DEB"
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
log "testing $DEB ($(du -h "$DEB" | cut -f1))"

# --------------------------------------------------------------------- metadata, contents ---
field() { dpkg-deb -f "$DEB" "$1" 2>/dev/null; }
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
DEPENDS=$(field Depends || true)
depends_on() { tr ',' '\n' <<<"$DEPENDS" | sed 's/^ *//; s/ .*//' | grep -qxF "$1"; }
dpkg-deb -I "$DEB" >"$TEST_DEB_SCRATCH/info" 2>&1 || abort "dpkg-deb -I failed: $(cat "$TEST_DEB_SCRATCH/info")"
dpkg-deb -c "$DEB" >"$TEST_DEB_SCRATCH/contents" 2>&1 || abort "dpkg-deb -c failed"
has_file() { grep -qE "^-rw[-rwx]{7} .* (\./)?$1\$" "$TEST_DEB_SCRATCH/contents"; }
has_exe() { grep -qE "^-rwxr-xr-x .* (\./)?$1\$" "$TEST_DEB_SCRATCH/contents"; }
desktop_file=$(grep -oE '[^ ]*usr/share/applications/[^ ]*\.desktop$' "$TEST_DEB_SCRATCH/contents" | head -1 || true)
if [ -n "$desktop_file" ]; then
    dpkg-deb --fsys-tarfile "$DEB" | tar -xO "$desktop_file" >"$TEST_DEB_SCRATCH/entry.desktop" 2>/dev/null || true
fi

check "Package: $PKG" [ "$(field Package)" = "$PKG" ]
check "Version: $VERSION (the workspace version)" eval '[ -n "$VERSION" ] && [ "$(field Version)" = "$VERSION" ]'
check "Architecture: $(dpkg --print-architecture)" [ "$(field Architecture)" = "$(dpkg --print-architecture)" ]
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
    check "Depends includes $dep" depends_on "$dep"
done
check "Depends lists no package twice" [ -z "$(tr ',' '\n' <<<"$DEPENDS" | sed 's/^ *//' | sort | uniq -d)" ]
check "contains /usr/bin/switchboard-desktop (mode 755)" has_exe usr/bin/switchboard-desktop
check "contains /usr/bin/switchboard (mode 755)" has_exe usr/bin/switchboard
check "contains a .desktop file in /usr/share/applications" [ -n "$desktop_file" ]
check "the .desktop file runs switchboard-desktop with its icon" \
    eval 'grep -qx "Exec=switchboard-desktop" "$TEST_DEB_SCRATCH/entry.desktop" && grep -qx "Icon=switchboard-desktop" "$TEST_DEB_SCRATCH/entry.desktop"'
for size in 32x32 128x128 512x512; do
    check "contains the $size icon" has_file "usr/share/icons/hicolor/$size/apps/switchboard-desktop.png"
done
sed 's/^/  /' "$TEST_DEB_SCRATCH/info" >&2

# ---------------------------------------------------------------------------- install ---
dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' 2>/dev/null | grep ' install ok installed$' |
    cut -d' ' -f1 | sort >"$TEST_DEB_SCRATCH/before"
log "apt-get install -y $DEB"
INSTALLED_BY_US=("$PKG") # from here on, the cleanup purges it
if ! timeout "$APT_TIMEOUT" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$DEB" >"$TEST_DEB_SCRATCH/install.log" 2>&1; then
    tail -n 30 "$TEST_DEB_SCRATCH/install.log" >&2
    abort "apt-get install ./$(basename "$DEB") failed"
fi
# Dependencies this install pulled in are purged with the package, so the machine is left as it was.
dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' 2>/dev/null | grep ' install ok installed$' |
    cut -d' ' -f1 | sort >"$TEST_DEB_SCRATCH/after"
mapfile -t pulled < <(comm -13 "$TEST_DEB_SCRATCH/before" "$TEST_DEB_SCRATCH/after" | sed 's/:.*//' | grep -vxF "$PKG" || true)
[ ${#pulled[@]} -eq 0 ] || log "the install pulled in: ${pulled[*]}"
INSTALLED_BY_US=("$PKG" "${pulled[@]}")

check "apt-get install: $PKG is installed" is_installed "$PKG"
check "/usr/bin/switchboard --version prints $VERSION" \
    eval '[ "$(timeout 10 /usr/bin/switchboard --version)" = "switchboard $VERSION" ]'
check "/usr/bin/switchboard --help runs" eval 'timeout 10 /usr/bin/switchboard --help >/dev/null'
check "all shared libraries of the installed binaries resolve" \
    eval '[ -x /usr/bin/switchboard-desktop ] && [ -x /usr/bin/switchboard ] &&
        ! ldd /usr/bin/switchboard-desktop /usr/bin/switchboard | grep -q "not found"'

# ----------------------------------------------------------------------------- launch ---
port=$(free_port) || abort "no free port found"

mkdir -p "$TEST_DEB_SCRATCH"/{home,config/switchboard,data,cache,run}
chmod 700 "$TEST_DEB_SCRATCH/run"
export HOME=$TEST_DEB_SCRATCH/home XDG_CONFIG_HOME=$TEST_DEB_SCRATCH/config \
    XDG_DATA_HOME=$TEST_DEB_SCRATCH/data XDG_CACHE_HOME=$TEST_DEB_SCRATCH/cache \
    XDG_RUNTIME_DIR=$TEST_DEB_SCRATCH/run
export SWITCHBOARD_CONFIG=$TEST_DEB_SCRATCH/config/switchboard/config.json SWITCHBOARD_PORT=$port
cat >"$SWITCHBOARD_CONFIG" <<EOF
{
  "mcpServers": { "demo": { "command": "/usr/bin/switchboard", "args": ["demo-server"] } },
  "switchboard": { "port": $port }
}
EOF
# The private D-Bus session has no unlocked keyring, so the key is given explicitly.
SWITCHBOARD_API_KEY="sbk_testdeb-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export SWITCHBOARD_API_KEY NO_AT_BRIDGE=1 RUST_LOG=${RUST_LOG:-info}

log "launching the installed app under xvfb-run + dbus-run-session (port $port)"
# The outer timeout is only a backstop; every wait inside is bounded.
set +e
timeout --kill-after=10 240 \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- bash "$REPO/scripts/test-deb.sh" --inside 2>&1 |
    grep --line-buffered -v -e '^dbus-daemon\[' -e 'SpiRegistry daemon' >&2
set -e
grep -q 'no switchboard/demo-server/WebKit process left' "$TEST_DEB_SCRATCH/results" ||
    echo "FAIL the launch checks did not complete (crash or backstop timeout)" >>"$TEST_DEB_SCRATCH/results"

# ------------------------------------------------------------------------------ purge ---
log "apt-get purge -y ${INSTALLED_BY_US[*]}"
if timeout "$APT_TIMEOUT" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get purge -y -q "${INSTALLED_BY_US[@]}" >"$TEST_DEB_SCRATCH/purge.log" 2>&1; then
    INSTALLED_BY_US=()
else
    tail -n 20 "$TEST_DEB_SCRATCH/purge.log" >&2
fi
# A purged package is unknown to dpkg, or "not-installed" (never "config-files").
purged() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)
    [ -z "$status" ] || [ "${status##* }" = not-installed ]
}
check "apt-get purge: $PKG is gone, config files included" purged
check "purge removed /usr/bin/switchboard-desktop and /usr/bin/switchboard" \
    eval '[ ! -e /usr/bin/switchboard-desktop ] && [ ! -e /usr/bin/switchboard ]'

grep '^FAIL' "$TEST_DEB_SCRATCH/results" | sed 's/^/  /' >&2 || true
