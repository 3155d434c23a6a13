#!/usr/bin/env bash
# Compares hygie's dataset import with pandas, side by side, on one core.
#
#   bench/dataset/compare.sh [rows]        (default 1,000,000 rows)
#   RUNS=5 WORK=/tmp/hygie-bench bench/dataset/compare.sh
#
# It writes a synthetic hospital extract (gen/: 30 columns — an id, 9
# integers, 10 floats, 4 dates, 6 strings among which postal codes and
# quoted free text; 4 % of the cells missing), then runs, RUNS times and
# alternately so that both see the same machine:
#
#   hygie  (run/): import the CSV as a dataset version (sniffing, type
#          inference, Parquet encoding, SHA-256, storage in a local blob store,
#          SQLite metadata), then one pass per numeric column computing what
#          DataFrame.describe() does (count, mean, std, min, quartiles, max);
#   pandas (pandas_describe.py): pandas.read_csv, then DataFrame.describe(),
#          with Debian's /usr/bin/python3 and python3-pandas;
#
# both pinned to CPU 0 (taskset -c 0; GOMAXPROCS=1 for hygie), and reports
# the medians: in-process times (load, per-column pass), whole-process wall
# and CPU (user + system) times, and peak resident memory (/usr/bin/time -v)
# against the size of the CSV file; plus hygie's peak memory for the import
# alone. On a shared machine, the CPU times are the steadier measure.
set -euo pipefail

ROWS="${1:-1000000}"
RUNS="${RUNS:-5}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${WORK:-$(mktemp -d /tmp/hygie-bench-XXXXXX)}"
mkdir -p "$WORK"

if ! /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
  echo "compare.sh: installing python3-pandas from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pandas >&2
fi
for tool in /usr/bin/time taskset go; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 1; }
done

(cd "$ROOT" && go build -o "$WORK/gen" ./bench/dataset/gen && go build -o "$WORK/run" ./bench/dataset/run)
CSV="$WORK/extract-$ROWS.csv"
if [ ! -s "$CSV" ]; then
  echo "writing $CSV" >&2
  "$WORK/gen" -rows "$ROWS" -out "$CSV"
fi

hygie() { # $1: output prefix; further arguments go to run
  local out="$1"; shift
  GOMAXPROCS=1 /usr/bin/time -v -o "$out.time" taskset -c 0 "$WORK/run" -csv "$CSV" "$@" > "$out.json"
}
pandas() {
  # Debian's OpenBLAS must not be given these (set in some environments).
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    /usr/bin/time -v -o "$1.time" taskset -c 0 /usr/bin/python3 "$ROOT/bench/dataset/pandas_describe.py" "$CSV" > "$1.json"
}

for i in $(seq "$RUNS"); do
  echo "run $i/$RUNS" >&2
  hygie "$WORK/hygie-$i"
  pandas "$WORK/pandas-$i"
done
hygie "$WORK/hygie-import-only" -describe=false

/usr/bin/python3 - "$WORK" "$RUNS" "$CSV" <<'PY'
import json, os, re, statistics, sys

work, runs, csv = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def timefile(path):
    t = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\):\s*(\S+)", t).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    user = float(re.search(r"User time \(seconds\):\s*(\S+)", t).group(1))
    system = float(re.search(r"System time \(seconds\):\s*(\S+)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", t).group(1)) * 1024
    return {"wall": secs, "cpu": user + system, "rss": rss}

def load(tool, i):
    r = json.load(open(f"{work}/{tool}-{i}.json"))
    r.update(timefile(f"{work}/{tool}-{i}.time"))
    r["total"] = r["import_seconds"] + r["describe_seconds"]
    return r

h = [load("hygie", i) for i in range(1, runs + 1)]
p = [load("pandas", i) for i in range(1, runs + 1)]
only = json.load(open(f"{work}/hygie-import-only.json"))
only.update(timefile(f"{work}/hygie-import-only.time"))
size = os.path.getsize(csv)
med = lambda rs, k: statistics.median(r[k] for r in rs)
MB = 1 << 20

print(f"{h[0]['rows']:,} rows × {h[0]['columns']} columns, CSV {size / MB:.0f} MB; one core (CPU 0); medians of {runs} runs")
print(f"{'':34}{'hygie':>10}{'pandas':>10}{'pandas/hygie':>14}")
def row(label, key, fmt="{:.2f}"):
    a, b = med(h, key), med(p, key)
    print(f"{label:34}{fmt.format(a):>10}{fmt.format(b):>10}{b / a:>13.2f}x")
row("load + per-column pass (s)", "total")
row("  load: import / read_csv (s)", "import_seconds")
row("  per-column pass / describe (s)", "describe_seconds")
row("whole process, wall (s)", "wall")
row("whole process, CPU user+sys (s)", "cpu")
a, b = med(h, "rss"), med(p, "rss")
print(f"{'peak RSS (MB)':34}{a / MB:>10.0f}{b / MB:>10.0f}{b / a:>13.2f}x")
print(f"{'peak RSS / CSV size':34}{a / size:>10.2f}{b / size:>10.2f}")
print(f"hygie, import alone: {only['import_seconds']:.2f} s, peak RSS {only['rss'] / MB:.0f} MB = {only['rss'] / size:.2f} × the CSV; "
      f"stored {only['stored_bytes'] / MB:.0f} MB of Parquet")
print(f"columns described: hygie {h[0]['described_columns']} (integers and floats), pandas {p[0]['described_columns']} (numeric dtypes)")
print(f"runs (total s): hygie {[round(r['total'], 2) for r in h]}, pandas {[round(r['total'], 2) for r in p]}")
PY
