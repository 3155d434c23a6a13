#!/bin/sh
# Compare hygie's gbdt and logistic learners with scikit-learn on the Adult
# data set (target salary-class, positive ">50K", 70/30 split, fixed seed).
# Both sides single-threaded. Usage: bench/learn/compare.sh [TREES LEAVES LR]
# Needs Go and Debian's /usr/bin/python3 with python3-sklearn.
set -eu
TREES=${1:-200} LEAVES=${2:-31} LR=${3:-0.1} SEED=${SEED:-42}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${ADULT:-/work/shared/data/adult/adult.csv}
PY=/usr/bin/python3
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 GOMAXPROCS=1

(cd "$ROOT" && go build -o "$OUT/hygie" ./cmd/hygie)
$PY "$ROOT/bench/learn/compare.py" split "$DATA" "$OUT" "$SEED"
echo "data: $DATA, train $(($(wc -l <"$OUT/train.csv") - 1)) rows, test $(($(wc -l <"$OUT/test.csv") - 1)) rows, seed $SEED"
echo "params: trees/max_iter=$TREES leaves/max_leaf_nodes=$LEAVES learning_rate=$LR min_samples_leaf=20"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() { # learner, params...
	learner=$1; shift
	: >"$OUT/times"
	for i in 1 2 3; do
		"$OUT/hygie" train --in "$OUT/train.csv" --sep ';' --target salary-class --positive '>50K' \
			--learner "$learner" "$@" --model-out "$OUT/m.json" -o json >"$OUT/train.json"
		$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$OUT/train.json" >>"$OUT/times"
	done
	"$OUT/hygie" predict --model "$OUT/m.json" --in "$OUT/test.csv" --sep ';' --out "$OUT/pred.csv" >/dev/null
	auc=$($PY "$ROOT/bench/learn/compare.py" auc "$OUT/test.csv" "$OUT/pred.csv")
	echo "{\"learner\": \"hygie $learner\", \"auc\": $auc, \"fit_seconds_median\": $(median <"$OUT/times")}"
}

bench gbdt --param trees="$TREES" --param leaves="$LEAVES" --param learning_rate="$LR" --param min_samples_leaf=20
bench logistic --param l2=1
$PY "$ROOT/bench/learn/compare.py" sklearn "$OUT" "$TREES" "$LEAVES" "$LR"
