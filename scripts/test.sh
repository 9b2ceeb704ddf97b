#!/usr/bin/env bash
# Runs every test: native engine/CLI/app tests, then the built site in headless Chromium and Firefox.
# Installs whatever is missing first (scripts/setup.sh), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

if [ ! -f ../shared/data/ml-100k/u1.base ] && [ -z "${AFFINITY_ML100K:-}" ]; then
  echo "NOTE: ../shared/data/ml-100k is absent: the Spark-parity tests on MovieLens 100K will SKIP."
fi

echo "== native tests: engine, CLI, app logic"
cargo test --workspace

echo "== building the site (trunk build --release)"
trunk build --release

echo "== end-to-end tests: the built site in headless Chromium (and Firefox)"
AFFINITY_DIST="$PWD/dist" node --test tests/e2e/
