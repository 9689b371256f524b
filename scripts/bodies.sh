#!/usr/bin/env bash
# Memory under large messages: a `switchboard serve` process takes concurrent 60 MB calls,
# then idles; its resident memory is printed at the peak and after. Not part of
# scripts/test.sh; figures go to BENCHMARKS.md. Environment: BODIES (8), BODY_MB (60).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p switchboard-blackbox --bin fixture-server
cargo build --release --locked -p switchboard-cli
exec cargo bench --locked -p switchboard-blackbox --bench bodies
