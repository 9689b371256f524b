# Helpers shared by the scripts that run the desktop app under test (desktop-smoke.sh,
# e2e.sh and the e2e tests, test-deb.sh, measure-desktop-memory.sh). Source it; it defines
# functions and the two TRAY_ variables they share, nothing runs.

# Polls `cmd…` every 0.25 s for up to $1 seconds; fails when the time is up.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.25
    done
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free loopback port below the kernel's ephemeral range, so no outgoing connection can
# take it between this check and the app binding it.
free_port() {
    local low candidate
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 21000 ] 2>/dev/null || low=32768
    for _ in $(seq 200); do
        candidate=$((20000 + RANDOM % (low - 20000)))
        if port_is_free "$candidate"; then
            echo "$candidate"
            return
        fi
    done
    return 1
}

# PIDs of processes matching `pgrep -f PATTERN` whose HOME is $1: this run's, since every
# run gives the app (and through it every child) a temporary HOME of its own; a concurrent
# run or the user's own Switchboard is never counted or killed.
pids_with_home() {
    local home=$1 pattern=$2 pid
    for pid in $(pgrep -f -- "$pattern" || true); do
        # (A process may be gone by now: the redirection's error is silenced too.)
        if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "HOME=$home"; then
            echo "$pid"
        fi
    done
}

# Backstop for an aborted run: SIGKILL to this run's processes matching PATTERN.
kill_with_home() {
    local pid
    for pid in $(pids_with_home "$1" "$2"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# The app's tray menu over D-Bus. libayatana-appindicator exports the menu on the session bus
# even with no StatusNotifier host (research/tauri-feasibility.md §4). Menu item ids change
# whenever the app rebuilds the menu, so every click looks its item up by label first.
TRAY_DEST=""
TRAY_MENU=""

# Finds the bus name and dbusmenu path of the tray item of process $1.
tray_find_for() {
    local app=$1 name pid menu
    for name in $(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.ListNames | grep -o "':[0-9.]*'" | tr -d "'"); do
        pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
            --method org.freedesktop.DBus.GetConnectionUnixProcessID "$name" 2>/dev/null |
            sed -n 's/.*uint32 \([0-9]*\).*/\1/p')
        [ "$pid" = "$app" ] || continue
        menu=$(gdbus introspect --session --dest "$name" --object-path / --recurse 2>/dev/null |
            grep -o '/org/ayatana/NotificationItem/[^ ]*/Menu' | head -1)
        [ -n "$menu" ] || continue
        TRAY_DEST=$name
        TRAY_MENU=$menu
        return 0
    done
    return 1
}

tray_layout() {
    gdbus call --session --dest "$TRAY_DEST" --object-path "$TRAY_MENU" \
        --method com.canonical.dbusmenu.GetLayout -- 0 -1 '@as []'
}

# The id of the first item whose whole label matches the extended regex $1.
tray_id() {
    tray_layout 2>/dev/null | grep -oE "\(([0-9]+), \{[^}]*'label': <'$1'>" | head -1 |
        sed -E 's/^\(([0-9]+),.*/\1/'
}

tray_has() { [ -n "$(tray_id "$1")" ]; }

# Every label in the menu, one line, for failure messages.
tray_labels() { tray_layout 2>/dev/null | grep -oE "'label': <'[^']*'>" | sed -E "s/'label': <'(.*)'>/\1/" | paste -sd '|'; }

# The app may rebuild its menu between the lookup and the click (a server's state changed),
# which retires the id: the click then fails with "does not refer to a menu item", and the
# label is looked up again.
tray_click() {
    local id attempt
    for attempt in 1 2 3 4 5; do
        id=$(tray_id "$1")
        [ -n "$id" ] || return 1
        printf '[tray] clicking menu item %s (%s)\n' "$id" "$1" >&2
        if gdbus call --session --dest "$TRAY_DEST" --object-path "$TRAY_MENU" \
            --method com.canonical.dbusmenu.Event -- "$id" clicked '<0>' 0 >/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
