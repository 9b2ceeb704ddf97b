#!/usr/bin/env bash
# Creates .venv-bench with PySpark (Java 17 must be on the machine), when a Spark side-by-side
# run is asked for. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
PYSPARK_VERSION=${PYSPARK_VERSION:-4.3.0}
if ! .venv-bench/bin/python -c "import numpy, pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
  echo "[bench] installing pyspark $PYSPARK_VERSION into .venv-bench" >&2
  python3 -m venv .venv-bench
  # pyspark.ml needs numpy, which pyspark does not pull in.
  .venv-bench/bin/pip install -q "pyspark==$PYSPARK_VERSION" numpy >&2
fi
echo "$PWD/.venv-bench/bin/python"
