#!/usr/bin/env bash
# Sets up everything Switchboard needs on Debian/Ubuntu and runs it: the system packages,
# a Rust toolchain when there is none, a release build. Then the desktop app when there is
# a display, else the headless proxy (`switchboard serve`). Arguments go to the app.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

bash scripts/install-system-deps.sh

if ! command -v cargo >/dev/null; then
    if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
        say "installing the Rust toolchain with rustup (https://rustup.rs)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    say "building the desktop app (a few minutes the first time)"
    cargo build --release --locked -p switchboard-desktop -p switchboard-cli
    exec target/release/switchboard-desktop "$@"
fi

say "building the headless proxy (a few minutes the first time)"
cargo build --release --locked -p switchboard-cli
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ -z "${SWITCHBOARD_API_KEY:-}" ]; then
    # No desktop session means no keychain to keep the API key in. Rather than write it to
    # a file, use a key for this run only and say so; SECURITY.md lists lasting options.
    SWITCHBOARD_API_KEY="sbk_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    export SWITCHBOARD_API_KEY
    say "no keychain (no D-Bus session): using an API key for this run only, kept nowhere:"
    say "    $SWITCHBOARD_API_KEY"
    say "to keep one across runs, see SECURITY.md ('No plaintext fallback')"
fi
exec target/release/switchboard serve "$@"
