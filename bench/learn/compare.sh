#!/bin/sh
# Compare hygie's gbdt and logistic learners with scikit-learn's
# HistGradientBoostingClassifier and LogisticRegression, side by side, both
# single-threaded, on the Adult data set (70/30 split, fixed seed) and on a
# synthetic table (1,000,000 rows by default, 80/20 split).
#
# Usage: bench/learn/compare.sh [adult|synth|all]
# Environment: TREES LEAVES LR (gbdt, default 100 31 0.1), RUNS (fits timed
# per learner, default 3), ROWS and SEED (synthetic table, default 1000000
# and 1), ADULT (path of adult.csv).
# Needs Go and Debian's /usr/bin/python3 with python3-sklearn and pandas.
set -eu
WHAT=${1:-all}
TREES=${TREES:-100} LEAVES=${LEAVES:-31} LR=${LR:-0.1} RUNS=${RUNS:-3}
ROWS=${ROWS:-1000000} SEED=${SEED:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ADULT=${ADULT:-/work/shared/data/adult/adult.csv}
PY=/usr/bin/python3
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 GOMAXPROCS=1

(cd "$ROOT" && go build -o "$OUT/learn" ./bench/learn)
echo "# $(date -u +%FT%TZ) $(uname -m), $(getconf _NPROCESSORS_ONLN) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); go $(go env GOVERSION), scikit-learn $($PY -c 'import sklearn; print(sklearn.__version__)')"
echo "# gbdt: trees=$TREES leaves=$LEAVES learning_rate=$LR min_samples_leaf=20 max_bins=255 l2=0, no early stopping; logistic: L2=1 (C=1); $RUNS timed fits each"

side_by_side() { # dir sep target positive
	for learner in gbdt logistic; do
		"$OUT/learn" fit -train "$1/train.csv" -test "$1/test.csv" -sep "$2" -target "$3" -positive "$4" \
			-learner $learner -trees "$TREES" -leaves "$LEAVES" -lr "$LR" -runs "$RUNS"
		$PY "$ROOT/bench/learn/compare.py" table "$1/train.csv" "$1/test.csv" "$2" "$3" "$4" \
			$learner "$TREES" "$LEAVES" "$LR" "$RUNS"
	done
}

if [ "$WHAT" = adult ] || [ "$WHAT" = all ]; then
	mkdir "$OUT/adult"
	$PY "$ROOT/bench/learn/compare.py" split "$ADULT" "$OUT/adult" 42
	echo "# adult: $ADULT, 70/30 split (seed 42)"
	side_by_side "$OUT/adult" ';' salary-class '>50K'
fi
if [ "$WHAT" = synth ] || [ "$WHAT" = all ]; then
	mkdir "$OUT/synth"
	"$OUT/learn" gen -rows "$ROWS" -seed "$SEED" -out "$OUT/synth"
	echo "# synthetic: $ROWS rows (seed $SEED), 80/20 split"
	side_by_side "$OUT/synth" , y 1
fi
