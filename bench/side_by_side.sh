#!/usr/bin/env bash
# Affinity's CLI against Apache Spark MLlib (PySpark, local[2]) on the same machine, same data,
# same parameters, in one run: ALS fit (rank 40, maxIter 10, regParam 0.1) on all of u.data, and
# 3-fold cross-validation over rank {10, 40} × regParam {0.05, 0.1, 0.2}. Installs PySpark into
# .venv-bench on first use (bench/spark_venv.sh). Needs ../shared/data/ml-100k and Java 17.
# SKIP_CV=1 times the fits only. The CLI is built into $CARGO_TARGET_DIR (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${AFFINITY_ML100K:-../shared/data/ml-100k}
[ -f "$DATA/u.data" ] || { echo "side_by_side: MovieLens 100K not found at $DATA" >&2; exit 1; }
PY=$(bench/spark_venv.sh)
cargo build --release -q -p affinity-cli
BIN=${CARGO_TARGET_DIR:-target}/release/affinity
SKIP_CV=${SKIP_CV:-}
json() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB, $(date -u +%F)"
# Affinity: best of 3 fits, like Spark's second (warm) fit below.
best_fit=999
for _ in 1 2 3; do
  out=$($BIN fit --ratings "$DATA/u.data" --rank 40 --max-iter 10 --reg-param 0.1 --out "${TMPDIR:-/tmp}/side_by_side.affm" --json)
  best_fit=$(python3 -c "print(min($best_fit, $(json "$out" fit_seconds)))")
done
if [ -n "$SKIP_CV" ]; then
  aff_cv=nan aff_best=- spark_cv=nan spark_best=-
  spark=$("$PY" bench/spark_als.py --ratings "$DATA/u.data" --rank 40 --max-iter 10 --reg-param 0.1 \
    --skip-cv 2>/dev/null | tail -1)
else
  cv=$($BIN cv --ratings "$DATA/u.data" --folds 3 --rank 10,40 --reg-param 0.05,0.1,0.2 --max-iter 10 --json)
  aff_cv=$(json "$cv" seconds)
  aff_best=$(json "$cv" "(best['rank'], best['reg_param'])")
  spark=$("$PY" bench/spark_als.py --ratings "$DATA/u.data" --rank 40 --max-iter 10 --reg-param 0.1 \
    --cv-ranks 10,40 --cv-reg-params 0.05,0.1,0.2 --folds 3 2>/dev/null | tail -1)
  spark_cv=$(json "$spark" cv_seconds)
  spark_best=$(json "$spark" "(cv_best['rank'], round(cv_best['reg_param'], 3))")
fi
spark_fit=$(json "$spark" fit_seconds)
python3 - "$best_fit" "$spark_fit" "$aff_cv" "$spark_cv" "$aff_best" "$spark_best" <<'PY'
import sys
af, sf, ac, sc, ab, sb = sys.argv[1:]
af, sf, ac, sc = map(float, (af, sf, ac, sc))
print("| job | Affinity CLI | Spark local[2] | Spark / Affinity |")
print("| --- | --- | --- | --- |")
print(f"| ALS fit, u.data, rank 40, maxIter 10 | {af:.3f} s | {sf:.2f} s | {sf/af:.0f}x |")
if ac == ac:  # not NaN: the CV ran
    print(f"| 3-fold CV, 6 grid points | {ac:.2f} s | {sc:.1f} s | {sc/ac:.0f}x |")
print(f"\nCV winners (rank, regParam): Affinity {ab}, Spark {sb}")
PY
