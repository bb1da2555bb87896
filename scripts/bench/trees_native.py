"""Bench part (g), the native side: train (once, cached) a 500-tree depth-8 XGBoost and LightGBM model and
time the libraries' own predict, single row and 1,000 rows, in this process.

    python trees_native.py OUT_DIR [--quick]

Writes OUT_DIR/xgboost/model.json, OUT_DIR/lightgbm/model.txt, OUT_DIR/rows.json (the 1,000 rows scored:
float64 values, null = missing) and prints one JSON line of timings. The data: scikit-learn's
make_classification (20,000 rows, 28 features, seeded), 5% of cells blanked, as a stand-in for a wide
tabular table; the models' shape (500 trees, depth 8) is what the benchmark is about.

Both libraries predict with one thread (nthread=1, num_threads=1), as ModelShip's Lambda runs
onnxruntime with one intra-op thread. XGBoost's single row uses inplace_predict (its fastest path, no
DMatrix); LightGBM's Booster.predict on a 1 x n numpy array.
"""
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification

TREES = 500
DEPTH = 8


def data():
    x, y = make_classification(n_samples=21000, n_features=28, n_informative=18, n_redundant=4, random_state=3)
    rng = np.random.RandomState(4)
    x[rng.rand(*x.shape) < 0.05] = np.nan
    return x[:20000], y[:20000], x[20000:]


def train(out):
    os.makedirs(os.path.join(out, "xgboost"), exist_ok=True)
    os.makedirs(os.path.join(out, "lightgbm"), exist_ok=True)
    xgb_path = os.path.join(out, "xgboost", "model.json")
    lgb_path = os.path.join(out, "lightgbm", "model.txt")
    tag = os.path.join(out, "versions.json")
    versions = {"xgboost": xgb.__version__, "lightgbm": lgb.__version__, "trees": TREES, "depth": DEPTH}
    x, y, rows = data()
    fresh = os.path.exists(tag) and json.load(open(tag)) == versions and os.path.exists(xgb_path) and os.path.exists(lgb_path)
    if not fresh:
        booster = xgb.train({"objective": "binary:logistic", "max_depth": DEPTH, "eta": 0.05, "tree_method": "hist",
                             "seed": 1, "nthread": 1}, xgb.DMatrix(x, label=y), num_boost_round=TREES)
        booster.save_model(xgb_path)
        model = lgb.train({"objective": "binary", "max_depth": DEPTH, "num_leaves": 2 ** DEPTH, "min_data_in_leaf": 5,
                           "learning_rate": 0.05, "verbose": -1, "seed": 1, "num_threads": 1},
                          lgb.Dataset(x, label=y), num_boost_round=TREES)
        model.save_model(lgb_path)
        json.dump(versions, open(tag, "w"))
    with open(os.path.join(out, "rows.json"), "w") as fh:
        json.dump([[None if np.isnan(v) else float(v) for v in r] for r in rows], fh)
    return xgb_path, lgb_path, rows


def median_us(fn, n, warm):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t)
    times.sort()
    return times[len(times) // 2] / 1000.0


def main():
    out = sys.argv[1]
    quick = "--quick" in sys.argv
    xgb_path, lgb_path, rows = train(out)
    single = 300 if quick else 2000
    batch = 10 if quick else 40
    one = rows[:1]
    xb = xgb.Booster(model_file=xgb_path)
    xb.set_param({"nthread": 1})
    lb = lgb.Booster(model_file=lgb_path, params={"num_threads": 1})
    result = {
        "xgboost": {
            "version": xgb.__version__,
            "trees": xb.num_boosted_rounds(),
            "singleRowMicros": median_us(lambda: xb.inplace_predict(one), single, 200),
            "singleRowDMatrixMicros": median_us(lambda: xb.predict(xgb.DMatrix(one)), single, 200),
            "batchMicros": median_us(lambda: xb.inplace_predict(rows), batch, 3),
            "first": [float(v) for v in xb.inplace_predict(rows[:3])],
        },
        "lightgbm": {
            "version": lgb.__version__,
            "trees": lb.num_trees(),
            "singleRowMicros": median_us(lambda: lb.predict(one, num_threads=1), single, 200),
            "batchMicros": median_us(lambda: lb.predict(rows, num_threads=1), batch, 3),
            "first": [float(v) for v in lb.predict(rows[:3], num_threads=1)],
        },
        "rows": int(len(rows)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
