#!/usr/bin/python3
"""scikit-learn side of compare.sh (Debian's python3 + python3-sklearn, pandas).

  compare.py split ADULT.csv OUTDIR SEED       -> OUTDIR/train.csv, OUTDIR/test.csv (70/30)
  compare.py table TRAIN TEST SEP TARGET POSITIVE LEARNER TREES LEAVES LR RUNS
      -> one JSON line for LEARNER (gbdt or logistic), with the inputs built
         like `go run ./bench/learn fit` builds hygie's (see bench/learn/main.go)
"""
import json, sys, time, statistics
import numpy as np

SEP = ";"

def read(path):
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=SEP))
    return rows[0], rows[1:]

def cmd_split(src, out, seed):
    header, rows = read(src)
    rng = np.random.default_rng(int(seed))
    idx = rng.permutation(len(rows))
    ntr = int(round(0.7 * len(rows)))
    import csv
    for name, part in (("train.csv", idx[:ntr]), ("test.csv", idx[ntr:])):
        with open(f"{out}/{name}", "w", newline="") as f:
            w = csv.writer(f, delimiter=SEP)
            w.writerow(header)
            for i in part:
                w.writerow(rows[i])

def load(path, sep):
    import pandas as pd
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False)

def cmd_table(train, test, sep, target_col, positive, learner, trees, leaves, lr, runs):
    """Same columns as bench/learn/main.go: numeric when every non-empty
    training cell parses, else categorical (sorted distinct non-empty values);
    empty cells missing."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    tr, te = load(train, sep), load(test, sep)
    ytr = (tr[target_col] == positive).to_numpy().astype(int)
    yte = (te[target_col] == positive).to_numpy().astype(int)
    cols, cats, means = [c for c in tr.columns if c != target_col], {}, {}
    for c in cols:
        v = tr[c][tr[c] != ""]
        try:
            means[c] = v.astype(float).mean()
        except ValueError:
            cats[c] = sorted(set(v))
    def raw(d):
        X = []
        for c in cols:
            if c in cats:
                X.append(pd.Categorical(d[c], categories=cats[c]).codes.astype(float))
                X[-1][X[-1] < 0] = np.nan
            else:
                X.append(pd.to_numeric(d[c].replace("", np.nan), errors="raise").to_numpy(dtype=float))
        return np.column_stack(X)
    def design(X):
        parts = []
        for k, c in enumerate(cols):
            if c not in cats:
                x = X[:, k].copy()
                x[np.isnan(x)] = means[c]
                parts.append(x[:, None])
        for k, c in enumerate(cols):
            if c in cats:
                oh = np.zeros((len(X), len(cats[c])))
                ok = ~np.isnan(X[:, k])
                oh[np.nonzero(ok)[0], X[ok, k].astype(int)] = 1
                parts.append(oh)
        return np.hstack(parts)
    Xtr, Xte = raw(tr), raw(te)
    del tr, te
    times, cpus, out = [], [], {"rows_train": len(Xtr), "rows_test": len(Xte)}
    if learner == "gbdt":
        from sklearn.ensemble import HistGradientBoostingClassifier
        mask = [c in cats for c in cols]
        for _ in range(int(runs)):
            m = HistGradientBoostingClassifier(max_iter=int(trees), max_leaf_nodes=int(leaves), learning_rate=float(lr),
                                               min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                                               categorical_features=mask, early_stopping=False, random_state=0)
            t, c = time.perf_counter(), time.process_time(); m.fit(Xtr, ytr)
            times.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
        out["learner"] = "sklearn HistGradientBoostingClassifier (max_iter %s, max_leaf_nodes %s, lr %s)" % (trees, leaves, lr)
        out["auc"] = roc_auc_score(yte, m.predict_proba(Xte)[:, 1])
    else:
        from sklearn.linear_model import LogisticRegression
        Dtr, Dte = design(Xtr), design(Xte)
        for _ in range(int(runs)):
            m = LogisticRegression(C=1.0, max_iter=5000, solver="lbfgs")
            t, c = time.perf_counter(), time.process_time(); m.fit(Dtr, ytr)
            times.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
        out["learner"] = "sklearn LogisticRegression (lbfgs, C 1)"
        out["auc"] = roc_auc_score(yte, m.predict_proba(Dte)[:, 1])
        out["features"], out["n_iter"] = Dtr.shape[1], int(m.n_iter_[0])
    # wall and CPU (process_time: all threads, user+system) seconds of fit()
    out["fit_seconds"], out["fit_seconds_median"] = times, statistics.median(times)
    out["fit_cpu_seconds"], out["fit_cpu_seconds_median"] = cpus, statistics.median(cpus)
    print(json.dumps(out))

if __name__ == "__main__":
    {"split": cmd_split, "table": cmd_table}[sys.argv[1]](*sys.argv[2:])
