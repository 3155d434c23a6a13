"""pandas' side of the dataset benchmark (see compare.sh): read a CSV file
with pandas.read_csv, then DataFrame.describe(); print the timings as JSON."""
import json
import sys
import time

import pandas as pd

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
d = df.describe()
t2 = time.perf_counter()
print(json.dumps({"rows": len(df), "columns": df.shape[1], "import_seconds": t1 - t0,
                  "describe_seconds": t2 - t1, "described_columns": d.shape[1]}))
