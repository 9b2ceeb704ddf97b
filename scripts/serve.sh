#!/usr/bin/env bash
# Builds the app and serves it on http://127.0.0.1:8080 (the demo catalog is one click away).
# Installs whatever is missing first; the browser used by the tests is not needed here.
set -euo pipefail
cd "$(dirname "$0")/.."
AFFINITY_SKIP_BROWSER=1 bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
echo "Serving Affinity on http://127.0.0.1:8080 (Ctrl-C stops)"
# No autoreload: trunk would inject an inline script, which the page's Content-Security-Policy
# (scripts/csp.mjs) blocks with an error in the console.
exec trunk serve --release --open=false --no-autoreload
