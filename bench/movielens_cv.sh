#!/usr/bin/env bash
# MovieLens 100K model-selection benchmark on the official folds u1..u5.
#
# For each fold N: `affinity cv` on uN.base alone picks the parameters (uN.test is not
# read), then `affinity eval` refits them on the whole uN.base and scores uN.test once.
# Prints the chosen parameters and test RMSE per fold, and the mean test RMSE.
#
# Usage: bench/movielens_cv.sh [--model "FLAGS"] [GRID FLAGS...]
#   --model "FLAGS"  model flags given to both cv and eval (default: "--biases")
#   GRID FLAGS       passed to `affinity cv` only (default below)
#
# The default grid (12 points, 5-fold CV): rank 80, maxIter 20, regParam {0.06, 0.08, 0.1}
# (Spark's, scaled by each user's and item's number of ratings), a constant ridge
# regConstant {2, 4} added to every user's and item's regularisation (it shrinks the rows
# with few ratings relatively more), and a bias regularisation biasReg {1, 3} (unscaled,
# the classical shrinkage of baseline predictors). These are round values around the usual
# ALS-WR regParam ~0.1; the CV picks among them on uN.base alone.
# Environment: DATA (default ../shared/data/ml-100k), AFFINITY (default target/release/affinity),
#              FOLDS_TO_RUN (default "1 2 3 4 5").
#
# Examples:
#   bench/movielens_cv.sh
#   bench/movielens_cv.sh --model "" --folds 3 --rank 10,20,40 --reg-param 0.05,0.1,0.2
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data/ml-100k}
AFFINITY=${AFFINITY:-target/release/affinity}
FOLDS_TO_RUN=${FOLDS_TO_RUN:-1 2 3 4 5}
MODEL_FLAGS="--biases"
if [[ ${1:-} == --model ]]; then
    MODEL_FLAGS=$2
    shift 2
fi
if [[ $# -eq 0 ]]; then
    set -- --folds 5 --rank 80 --max-iter 20 --reg-param 0.06,0.08,0.1 --reg-constant 2,4 \
        --bias-reg 1,3
fi
GRID_FLAGS=("$@")
read -r -a MODEL <<<"$MODEL_FLAGS"

if [[ ! -f $DATA/u1.base ]]; then
    echo "MovieLens 100K not found at $DATA; set DATA" >&2
    exit 1
fi
if [[ ! -x $AFFINITY ]]; then
    echo "building $AFFINITY" >&2
    cargo build --release -p affinity-cli >&2
fi

echo "model flags: ${MODEL[*]:-(none)}"
echo "cv grid flags: ${GRID_FLAGS[*]}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$SECONDS
for n in $FOLDS_TO_RUN; do
    base=$DATA/u$n.base
    test=$DATA/u$n.test
    # Selection: uN.base only.
    "$AFFINITY" cv --ratings "$base" "${MODEL[@]}" "${GRID_FLAGS[@]}" --json >"$tmp/cv$n.json"
    # The best point's parameters as `affinity eval` flags, and its CV RMSE.
    read -r cv_rmse < <(python3 -c '
import json, sys
print("%.4f" % json.load(open(sys.argv[1]))["best"]["mean"])' "$tmp/cv$n.json")
    read -r -a BEST < <(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))["best"]
flags = ["--rank", b["rank"], "--max-iter", b["max_iter"], "--reg-param", repr(b["reg_param"]),
         "--reg-constant", repr(b.get("reg_constant", 0.0)),
         "--reg-scaling", b.get("reg_scaling", "count")]
if b.get("bias_reg") is not None:
    flags += ["--bias-reg", repr(b["bias_reg"])]
print(" ".join(str(f) for f in flags))' "$tmp/cv$n.json")
    # Final score: refit on the whole uN.base, score uN.test once.
    "$AFFINITY" eval --train "$base" --test "$test" "${MODEL[@]}" "${BEST[@]}" \
        --json >"$tmp/eval$n.json"
    python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
print("u%s: best %s (cv RMSE %s)  test RMSE %.4f" % (
    sys.argv[2], sys.argv[3], sys.argv[4], e["rmse"]))
' "$tmp/eval$n.json" "$n" "${BEST[*]}" "$cv_rmse"
done
python3 -c '
import json, sys
r = [json.load(open("%s/eval%s.json" % (sys.argv[1], n)))["rmse"] for n in sys.argv[2].split()]
print("mean test RMSE over %d folds: %.4f" % (len(r), sum(r) / len(r)))
' "$tmp" "$FOLDS_TO_RUN"
echo "$((SECONDS - started)) s"
