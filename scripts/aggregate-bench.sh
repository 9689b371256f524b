#!/usr/bin/env bash
# The aggregate endpoint and the warm spare, measured on a release `switchboard serve`
# with ten configured servers: processes, memory, session open cold and warm. Not part of
# scripts/test.sh; figures go to BENCHMARKS.md. Environment: BENCH_OPENS (20),
# BENCH_GAP_MS (2500), BENCH_SERVER=demo (use the built-in demo server instead of
# server-everything).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p switchboard-cli
exec cargo bench --locked -p switchboard-blackbox --bench aggregate
