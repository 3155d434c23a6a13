#!/usr/bin/python3
"""Helpers for compare.sh (Debian's python3 + python3-sklearn).

  compare.py split ADULT.csv OUTDIR SEED       -> OUTDIR/train.csv, OUTDIR/test.csv (70/30)
  compare.py auc TEST.csv PRED.csv             -> ROC AUC of hygie's predictions
  compare.py sklearn OUTDIR TREES LEAVES LR    -> sklearn figures (JSON lines)
"""
import json, sys, time, statistics
import numpy as np

SEP, TARGET, POS = ";", "salary-class", ">50K"

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

def target(path):
    header, rows = read(path)
    j = header.index(TARGET)
    return np.array([1 if r[j] == POS else 0 for r in rows])

def cmd_auc(test, pred):
    from sklearn.metrics import roc_auc_score
    import csv
    with open(pred, newline="") as f:
        p = [float(r["prediction"]) for r in csv.DictReader(f)]
    print("%.6f" % roc_auc_score(target(test), p))

def features(path, cats=None):
    header, rows = read(path)
    cols = [c for c in header if c != TARGET]
    data = {c: [r[header.index(c)] for r in rows] for c in cols}
    numeric = {}
    for c in cols:
        try:
            numeric[c] = np.array([float(v) for v in data[c]])
        except ValueError:
            pass
    if cats is None:
        cats = {c: sorted(set(data[c])) for c in cols if c not in numeric}
    return cols, data, numeric, cats

def cmd_sklearn(out, trees, leaves, lr):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    cols, dtr, ntr, cats = features(f"{out}/train.csv")
    _, dte, nte, _ = features(f"{out}/test.csv", cats)
    ytr, yte = target(f"{out}/train.csv"), target(f"{out}/test.csv")
    def ordinal(d, n):
        X = []
        for c in cols:
            if c in n:
                X.append(n[c])
            else:
                code = {v: i for i, v in enumerate(cats[c])}
                X.append(np.array([code.get(v, np.nan) for v in d[c]], dtype=float))
        return np.column_stack(X)
    def onehot(d, n):
        X = []
        for c in cols:
            if c in n:
                X.append(n[c][:, None])
            else:
                a = np.array(d[c])
                X.append(np.column_stack([(a == v).astype(float) for v in cats[c]]))
        return np.hstack(X)
    mask = [c not in ntr for c in cols]
    Xtr, Xte = ordinal(dtr, ntr), ordinal(dte, nte)
    times, auc = [], None
    for _ in range(3):
        m = HistGradientBoostingClassifier(max_iter=int(trees), max_leaf_nodes=int(leaves), learning_rate=float(lr),
                                           min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                                           categorical_features=mask, early_stopping=False, random_state=0)
        t = time.perf_counter(); m.fit(Xtr, ytr); times.append(time.perf_counter() - t)
        auc = roc_auc_score(yte, m.predict_proba(Xte)[:, 1])
    print(json.dumps({"learner": "sklearn HistGradientBoostingClassifier", "auc": auc, "fit_seconds_median": statistics.median(times)}))
    Otr, Ote = onehot(dtr, ntr), onehot(dte, nte)
    times = []
    for _ in range(3):
        m = LogisticRegression(C=1.0, max_iter=5000, solver="lbfgs")
        t = time.perf_counter(); m.fit(Otr, ytr); times.append(time.perf_counter() - t)
        auc = roc_auc_score(yte, m.predict_proba(Ote)[:, 1])
    print(json.dumps({"learner": "sklearn LogisticRegression(lbfgs, C=1)", "auc": auc, "fit_seconds_median": statistics.median(times), "n_iter": int(m.n_iter_[0])}))

if __name__ == "__main__":
    {"split": cmd_split, "auc": cmd_auc, "sklearn": cmd_sklearn}[sys.argv[1]](*sys.argv[2:])
