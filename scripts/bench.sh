#!/usr/bin/env bash
# Native fit time and accuracy on MovieLens 100K's official folds, Spark's defaults and rank 40,
# measured in one run. Needs ../shared/data/ml-100k (or $AFFINITY_ML100K).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${AFFINITY_ML100K:-../shared/data/ml-100k}
[ -f "$DATA/u1.base" ] || { echo "bench: MovieLens 100K not found at $DATA" >&2; exit 1; }
cargo build --release -q -p affinity-cli
BIN=target/release/affinity
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
for cfg in "--rank 10 --reg-param 0.1" "--rank 40 --reg-param 0.05"; do
  total=0; rmse_sum=0
  for k in 1 2 3 4 5; do
    out=$($BIN eval --train "$DATA/u$k.base" --test "$DATA/u$k.test" $cfg --max-iter 10 --json)
    fit=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['fit_seconds'])" "$out")
    rmse=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['rmse'])" "$out")
    total=$(python3 -c "print($total + $fit)"); rmse_sum=$(python3 -c "print($rmse_sum + $rmse)")
  done
  python3 -c "print(f'{\"$cfg\":28s} mean fit {$total/5:.3f} s   mean RMSE {$rmse_sum/5:.4f}')"
done
