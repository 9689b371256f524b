#!/usr/bin/env bash
# The soak run: a running Hub (release build) under minutes of mixed load (64 sessions,
# calls checked for cross-talk, session churn, child crashes, config changes), then checked
# for leaked processes and file descriptors. Not part of scripts/test.sh; figures go to
# BENCHMARKS.md. Environment: SOAK_SECS (default 180), SOAK_SESSIONS (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p switchboard-blackbox --bin fixture-server
exec cargo bench --locked -p switchboard-blackbox --bench soak
