#!/usr/bin/python3
"""Generates the XGBoost reference fixtures of internal/explain.

Usage: /usr/bin/python3 gen_xgboost.py OUTDIR   (Debian: python3-xgboost)

For each case it trains a small model on seeded synthetic data with missing
values, saves it in XGBoost's JSON format (OUTDIR/xgb-NAME.json) and writes
OUTDIR/xgb-NAME.cases.json: test rows (null = missing), xgboost's raw margin
(predict(output_margin=True)) and its TreeSHAP contributions
(predict(pred_contribs=True): one value per feature, then the bias).
Feature x4 is constant in training, so no tree splits on it.
"""
import json
import sys

import numpy as np
import xgboost as xgb


def data(rng, n):
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[:, 3] = rng.integers(0, 4, size=n)  # a small-integer feature: ties on thresholds
    X[:, 4] = 1.0
    X[rng.random(size=(n, 5)) < 0.15] = np.nan
    X[:, 4] = 1.0
    return X


def main(out):
    rng = np.random.default_rng(7)
    X = data(rng, 400)
    x0, x1, x2, x3 = (np.nan_to_num(X[:, j]) for j in range(4))
    f = 1.5 * x0 - x1 * x2 + 0.7 * (x3 == 2) + np.where(np.isnan(X[:, 0]), 1.0, 0.0)
    cases = {
        "regression": ("reg:squarederror", f + 0.3 * rng.normal(size=len(f)), {}),
        "binary": ("binary:logistic", (f + 0.5 * rng.normal(size=len(f)) > 0.3).astype(float), {}),
        "multiclass": ("multi:softprob", np.digitize(f, [-0.5, 0.8]).astype(float), {"num_class": 3}),
        "dart": ("binary:logistic", (f + 0.5 * rng.normal(size=len(f)) > 0.3).astype(float),
                 {"booster": "dart", "rate_drop": 0.2, "skip_drop": 0.0}),
    }
    Xt = data(rng, 30)
    for name, (obj, y, extra) in cases.items():
        params = {"objective": obj, "max_depth": 4 if name != "multiclass" else 3, "eta": 0.3,
                  "base_score": 0.5 if name != "regression" else 0.2, "seed": 1, "nthread": 1}
        params.update(extra)
        d = xgb.DMatrix(X, label=y, feature_names=["x0", "x1", "x2", "x3", "x4"])
        rounds = 20 if name != "multiclass" else 5
        b = xgb.train(params, d, num_boost_round=rounds)
        model = json.loads(b.save_raw("json").decode())
        # rows sitting exactly on split conditions of the first tree
        gb = model["learner"]["gradient_booster"]
        t0 = (gb["gbtree"] if "gbtree" in gb else gb)["model"]["trees"][0]
        T = Xt.copy()
        for k, (l, j, c) in enumerate(zip(t0["left_children"], t0["split_indices"], t0["split_conditions"])):
            if l != -1 and k < len(T):
                T[k, j] = np.float32(c)
        dt = xgb.DMatrix(T, feature_names=["x0", "x1", "x2", "x3", "x4"])
        margin = b.predict(dt, output_margin=True)
        contribs = b.predict(dt, pred_contribs=True)
        with open(f"{out}/xgb-{name}.json", "w") as fh:
            json.dump(model, fh, separators=(",", ":"))
        rows = [[None if np.isnan(v) else float(v) for v in r] for r in T]
        with open(f"{out}/xgb-{name}.cases.json", "w") as fh:
            json.dump({"xgboost": xgb.__version__, "X": rows,
                       "margin": np.asarray(margin, dtype=float).tolist(),
                       "contribs": np.asarray(contribs, dtype=float).tolist()}, fh)


if __name__ == "__main__":
    main(sys.argv[1])
