#!/usr/bin/env bash
# Runs the keychain tests against a real Secret Service: a private D-Bus session with a
# fresh gnome-keyring, unlocked, that disappears with the session. Your own keyring is
# never touched (fresh XDG_DATA_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p switchboard-cli --locked
cargo build --quiet -p switchboard-blackbox --bin oauth-fixture --locked
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export SWITCHBOARD_TEST_SECRET_SERVICE=1
dbus-run-session -- sh -c '
  printf "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test --locked -p switchboard-blackbox --test keychain -- --ignored --test-threads=1
'
