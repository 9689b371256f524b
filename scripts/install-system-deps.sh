#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the whole test suite needs: the desktop build
# (WebKitGTK, appindicator), Xvfb runs and screenshots, the tray menu over D-Bus, a real
# Secret Service, and Python for the external MCP clients. Idempotent: packages already
# installed are skipped, and a prepared machine does not even run `apt-get update`.
# See research/tauri-feasibility.md §1 for what each package is for and what it costs.
set -euo pipefail

PACKAGES=(
    # Desktop build (tauri 2 on Linux).
    build-essential pkg-config libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
    librsvg2-dev libssl-dev libxdo-dev
    # Running the app headless: xvfb-run needs xauth (only a Recommends of xvfb).
    xvfb xauth dbus dbus-x11 fonts-dejavu-core
    # Screenshots (import), window checks (xwininfo, xdotool), the tray menu (gdbus).
    imagemagick x11-utils xdotool libglib2.0-bin
    # WebDriver e2e.
    webkit2gtk-driver
    # A real Secret Service for the keychain tests.
    gnome-keyring libsecret-1-dev
    # The smoke scripts and the external MCP clients (scripts/install-test-tools.sh).
    procps curl ca-certificates python3 python3-pip python3-venv
)

log() { printf '[install-system-deps] %s\n' "$*" >&2; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    log "this script is for Debian/Ubuntu (apt); install the equivalents of: ${PACKAGES[*]}"
    exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} packages are installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "not root and no sudo; install as root: ${missing[*]}"; exit 1; }
    SUDO=(sudo)
fi

log "installing ${#missing[@]} packages: ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
log "done"
