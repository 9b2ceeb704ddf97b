#!/usr/bin/env bash
# MovieLens 100K model-selection benchmark on the official folds u1..u5.
#
# For each fold N: `affinity cv` on uN.base alone picks the parameters (uN.test is not
# read), then `affinity eval` refits them on the whole uN.base and scores uN.test once.
# Prints the chosen parameters and test RMSE per fold, and the mean test RMSE.
#
# Usage: bench/movielens_cv.sh [--model "FLAGS"] [GRID FLAGS...]
#   --model "FLAGS"  model flags given to both cv and eval (default: "--biases")
#   GRID FLAGS       passed to `affinity cv` only (default below: 5 folds, rank {40, 80},
#                    regParam 0.05..0.3, maxIter 20)
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
    set -- --folds 5 --rank 40,80 --reg-param 0.05,0.08,0.1,0.12,0.14,0.16,0.2,0.3 --max-iter 20
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
    read -r rank iter reg cv_rmse < <(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))["best"]
print(b["rank"], b["max_iter"], repr(b["reg_param"]), "%.4f" % b["mean"])
' "$tmp/cv$n.json")
    # Final score: refit on the whole uN.base, score uN.test once.
    "$AFFINITY" eval --train "$base" --test "$test" "${MODEL[@]}" \
        --rank "$rank" --max-iter "$iter" --reg-param "$reg" --json >"$tmp/eval$n.json"
    python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
print("u%s: best rank %s maxIter %s regParam %s (cv RMSE %s)  test RMSE %.4f" % (
    sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], e["rmse"]))
' "$tmp/eval$n.json" "$n" "$rank" "$iter" "$reg" "$cv_rmse"
done
python3 -c '
import json, sys
r = [json.load(open("%s/eval%s.json" % (sys.argv[1], n)))["rmse"] for n in sys.argv[2].split()]
print("mean test RMSE over %d folds: %.4f" % (len(r), sum(r) / len(r)))
' "$tmp" "$FOLDS_TO_RUN"
echo "$((SECONDS - started)) s"
