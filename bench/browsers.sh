#!/usr/bin/env bash
# Chromium and Firefox side by side on the u.data fit: bench/browser.sh's build and checks,
# then bench/browsers.mjs, which prints a markdown table. Same variables as bench/browser.sh
# (BENCH_NO_BUILD, AFFINITY_DIST, AFFINITY_BIN, DATA), plus BENCH_REPEAT.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash bench/browser.sh bench/browsers.mjs
