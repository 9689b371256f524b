# Helpers shared by the scripts that run the desktop app under test (desktop-smoke.sh,
# e2e.sh, test-deb.sh). Source it; it defines functions only.

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
