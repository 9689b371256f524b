#!/usr/bin/env bash
# Builds the Debian package of Switchboard: a release build of the desktop app
# (/usr/bin/switchboard-desktop, .desktop file, icons) plus the headless CLI
# (/usr/bin/switchboard, which `switchboard connect` and the Claude Desktop setup use).
#   1. cargo build --release --locked -p switchboard-cli
#   2. the Tauri CLI (the prebuilt npm package @tauri-apps/cli, major version 2, installed
#      once into .tools/tauri-cli/ so later runs are fast and no node_modules/ appears at the
#      root) runs `tauri build --bundles deb`, which builds switchboard-desktop in release mode
#      and bundles it with the "bundle" section of tauri.conf.json. No frontend build: ui/ is static.
# Prints the path of the .deb as its last line (everything else goes to stderr).
# Needs: cargo, Node.js >= 18 with npm (and the registry, on the first run only), the build
# packages of scripts/install-system-deps.sh, dpkg-deb. Honours CARGO_TARGET_DIR (and a
# target-dir in .cargo/config.toml). Env: TAURI_CLI_VERSION (default "2"; keep it a 2.x),
# TAURI_CLI_DIR (default .tools/tauri-cli).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAURI_CLI_VERSION=${TAURI_CLI_VERSION:-2}
TOOLS=${TAURI_CLI_DIR:-$REPO/.tools/tauri-cli}
TAURI="$TOOLS/node_modules/.bin/tauri"

log() { printf '[package-deb] %s\n' "$*" >&2; }

cd "$REPO"
for tool in cargo node npm dpkg-deb; do
    command -v "$tool" >/dev/null || {
        log "missing: $tool"
        exit 1
    }
done

# ------------------------------------------------------------------------ the Tauri CLI ---
# Reinstalled only when missing or not a 2.x (the npm "latest" may one day be a 3.x).
if ! "$TAURI" --version 2>/dev/null | grep -q '^tauri-cli 2\.'; then
    log "installing @tauri-apps/cli@$TAURI_CLI_VERSION into ${TOOLS#"$REPO"/}"
    mkdir -p "$TOOLS"
    # Its own package.json, so npm does not walk up to (or create) one at the root.
    [ -f "$TOOLS/package.json" ] || echo '{ "private": true }' >"$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error \
        "@tauri-apps/cli@$TAURI_CLI_VERSION" >&2
fi
"$TAURI" --version | grep -q '^tauri-cli 2\.' || {
    log "the Tauri CLI in $TOOLS is not a 2.x: $("$TAURI" --version 2>&1)"
    exit 1
}
log "using $("$TAURI" --version)"

# --------------------------------------------------------------------------- the build ---
# Where cargo puts things: CARGO_TARGET_DIR, a .cargo/config.toml target-dir, else ./target.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR=${TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO/target}}
mkdir -p "$TARGET_DIR"
TARGET_DIR=$(cd "$TARGET_DIR" && pwd)
CLI_BIN="$TARGET_DIR/release/switchboard"
BUNDLE_DIR="$TARGET_DIR/release/bundle/deb"

log "building the headless CLI (release)"
cargo build --release --locked -p switchboard-cli >&2

# tauri.conf.json maps /usr/bin/switchboard to "target/release/switchboard", a path the
# bundler resolves against the directory of tauri.conf.json (the repo root). That is wrong
# when the target directory is elsewhere, so the mapping is overridden here with the real,
# absolute path (--config is a JSON merge patch over tauri.conf.json).
CONFIG_PATCH="{\"bundle\":{\"linux\":{\"deb\":{\"files\":{\"/usr/bin/switchboard\":\"$CLI_BIN\"}}}}}"

STAMP=$(mktemp)
trap 'rm -f "$STAMP"' EXIT
log "building and bundling switchboard-desktop (release) with the Tauri CLI"
# --ci: no prompts. After `--`: arguments for `cargo build`; `-p` because the root package is
# not among the workspace's default-members.
"$TAURI" build --ci --bundles deb --config "$CONFIG_PATCH" -- --locked -p switchboard-desktop >&2

DEB=$(find "$BUNDLE_DIR" -maxdepth 1 -name '*.deb' -newer "$STAMP" -print 2>/dev/null | head -1)
if [ -z "$DEB" ]; then
    log "no new .deb in $BUNDLE_DIR"
    exit 1
fi
log "built $DEB ($(du -h "$DEB" | cut -f1))"
echo "$DEB"
