#!/usr/bin/env bash
# Browser benchmark (issue 5): builds the release site and the native CLI, then runs
# bench/browser.mjs (or the script given as the first argument, as bench/browsers.sh does),
# which prints a markdown table of wasm-in-Chromium against native times.
# Needs ../shared/data/ml-100k (or $DATA); without it, prints SKIPPED and exits 0.
#
#   bench/browser.sh                          # dist in target/bench-dist
#   BENCH_SIZES=1000000 bench/browser.sh      # skip the 10M-rating file
#   BENCH_NO_BUILD=1 AFFINITY_DIST=... bench/browser.sh   # use an existing build
set -euo pipefail
cd "$(dirname "$0")/.."
export DATA=${DATA:-../shared/data/ml-100k}
if [ ! -f "$DATA/u.data" ]; then
  echo "SKIPPED: MovieLens 100K not found at $DATA (set DATA to its directory)." >&2
  exit 0
fi
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET=${CARGO_TARGET_DIR:-target}
export AFFINITY_DIST=${AFFINITY_DIST:-$TARGET/bench-dist}
export AFFINITY_BIN=${AFFINITY_BIN:-$TARGET/release/affinity}
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  cargo build --release -q -p affinity-cli
  trunk build --release --dist "$AFFINITY_DIST"
fi
exec node "${1:-bench/browser.mjs}"
