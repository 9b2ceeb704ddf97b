#!/usr/bin/env bash
# Installs everything the build and the tests need, skipping what is already present.
# The versions are the ones verified on these machines (see ../shared/TOOLCHAIN.md when present).
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# Must equal the wasm-bindgen version in Cargo.lock: Trunk only uses an installed CLI of that version.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

log() { echo "[setup] $*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "${AFFINITY_SKIP_BROWSER:-}" != 1 ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  log "installing Debian's chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Firefox for tests/e2e/firefox.test.mjs (driven by puppeteer-core over WebDriver BiDi).
if [ "${AFFINITY_SKIP_BROWSER:-}" != 1 ] && [ -z "${FIREFOX_PATH:-}" ] && ! command -v firefox-esr >/dev/null && ! command -v firefox >/dev/null; then
  log "installing Debian's firefox-esr"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq firefox-esr >/dev/null
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ] || [ ! -d node_modules/puppeteer-core ]; then
  log "installing npm packages (binaryen's wasm-opt, playwright-core, puppeteer-core, axe-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  log "installing trunk $TRUNK_VERSION (10-18 minutes on 2 cores)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 10 minutes)"
  # --locked fails on a yanked dependency of this version; the unlocked install works.
  cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi
# PySpark for the Spark round-trip test (crates/cli/tests/spark_roundtrip.rs); it skips without it.
PYSPARK_VERSION=4.3.0
if [ "${AFFINITY_SKIP_SPARK:-}" != 1 ]; then
  if ! command -v java >/dev/null; then
    log "installing Debian's openjdk-17-jre-headless (Spark runs on the JVM)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
  if ! .venv-spark/bin/python -c "import numpy, pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    log "installing pyspark $PYSPARK_VERSION into .venv-spark (about 2 minutes)"
    python3 -m venv .venv-spark
    # pyspark.ml needs numpy, which pyspark does not pull in.
    .venv-spark/bin/pip install -q "pyspark==$PYSPARK_VERSION" numpy
  fi
fi
log "toolchain ready"
