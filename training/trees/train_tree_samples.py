#!/usr/bin/env python3
"""Train ModelShip's two native tree samples (issue 24) on real public data with categorical features and
missing values, and write them as a user would drop them into models/:

  models/penguin_species/1/model.json   XGBoost 3.2 multi:softprob: Palmer penguins' species from island and
                                        sex (categorical; sex missing for some birds) and four measurements
                                        (missing for two birds) and the year
  models/car_mpg/1/model.txt            LightGBM 4.7 regression: auto-mpg miles per gallon from make (37
                                        categories) and origin (categorical) and six numbers (horsepower
                                        missing for six cars)

Each version folder also gets golden.json (the held-out rows as one v2 input per feature, null = missing,
categories by name, with the native library's outputs and the true targets), evaluation.json (metrics on
that split) and baseline.json (per-feature training statistics for drift; categorical features by category
frequency), and each model a config.json. The ONNX model is generated from the native file (npm start,
cdk synth, modelship convert), never committed.

Run in the pinned, gitignored virtual environment of the tree fixtures:

    python3 -m venv .venv-trees
    .venv-trees/bin/pip install xgboost==3.2.0 lightgbm==4.7.0 scikit-learn==1.7.2 pandas==2.3.3 palmerpenguins==0.1.6 vega_datasets==0.9.0
    .venv-trees/bin/python training/trees/train_tree_samples.py
"""
import json
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn import metrics

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

MODELS = os.path.join(common.ROOT, "models")
SEED = 42
TEST_SHARE = 0.25


def write_json(path, value):
    with open(path, "w") as fh:
        json.dump(value, fh, indent=1, allow_nan=False)
        fh.write("\n")


def version_dir(name):
    d = os.path.join(MODELS, name, "1")
    os.makedirs(d, exist_ok=True)
    return d


def is_categorical(frame, col):
    return str(frame[col].dtype) == "category"


def golden_inputs(x, numeric_type):
    """One v2 input per feature: BYTES category names for a categorical one, numbers otherwise; null = missing."""
    inputs = []
    for col in x.columns:
        values = x[col].tolist()
        if is_categorical(x, col):
            data = [None if not isinstance(v, str) else v for v in values]
            inputs.append({"name": col, "datatype": "BYTES", "shape": [len(data)], "data": data})
        else:
            data = [None if v is None or (isinstance(v, float) and np.isnan(v)) else (int(v) if str(x[col].dtype).startswith("int") else float(v)) for v in values]
            datatype = "INT64" if str(x[col].dtype).startswith("int") else numeric_type
            inputs.append({"name": col, "datatype": datatype, "shape": [len(data)], "data": data})
    return inputs


def baseline(x):
    """Per-feature training statistics. Numeric: as training/train_samples.py writes them (over the present
    values), plus the share missing. Categorical: each category's share of the rows, and the share missing."""
    features = []
    for i, col in enumerate(x.columns):
        s = x[col]
        missing = float(s.isna().mean())
        if is_categorical(x, col):
            # Shares among the rows that have a category, in the model's code order (drift leaves missing out).
            counts = s.value_counts(dropna=True)
            present = int(s.notna().sum())
            features.append({
                "name": col, "index": i, "type": "categorical", "count": present, "missingShare": missing,
                "categories": [str(c) for c in s.cat.categories],
                "categoryProportions": [float(counts.get(c, 0)) / present for c in s.cat.categories],
            })
            continue
        v = s.dropna().to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(v, np.linspace(0, 1, 11)))
        hist, _ = np.histogram(v, bins=edges)
        features.append({
            "name": col, "index": i, "type": "numeric", "count": int(v.size), "missingShare": missing,
            "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "binEdges": [round(float(e), 9) for e in edges],
            "binProportions": [round(float(c), 9) for c in hist / hist.sum()],
            "quantiles": [round(float(q), 9) for q in np.quantile(v, np.linspace(0, 1, 101))],
        })
    return {"features": features}


def write_version(d, golden, task, n, metric_values, x_train):
    write_json(os.path.join(d, "golden.json"), golden)
    write_json(os.path.join(d, "evaluation.json"), {
        "task": task,
        "split": {"testSize": TEST_SHARE, "randomState": SEED, "rows": n},
        "metrics": metric_values,
    })
    write_json(os.path.join(d, "baseline.json"), baseline(x_train))


def split(x, y):
    n_test = int(round(len(x) * TEST_SHARE))
    return common.split(x, y, test=n_test, seed=SEED)


def penguin_species():
    x, y, species = common.penguins()
    xtr, xte, ytr, yte = split(x, y)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3, "tree_method": "hist",
              "max_cat_to_onehot": 1, "seed": SEED, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(xtr, label=ytr, enable_categorical=True), num_boost_round=30)
    d = version_dir("penguin_species")
    booster.save_model(os.path.join(d, "model.json"))
    native = xgb.Booster(model_file=os.path.join(d, "model.json"))
    proba = native.predict(xgb.DMatrix(xte, enable_categorical=True))
    label = proba.argmax(axis=1)
    n = len(xte)
    write_version(d, {
        "description": "Held-out penguins (%d of %d, seed %d) with XGBoost %s's own predictions (Booster.predict on the DataFrame)." % (n, len(x), SEED, xgb.__version__),
        "inputs": golden_inputs(xte, "FP32"),
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [n], "data": [int(v) for v in label]},
            {"name": "probabilities", "datatype": "FP32", "shape": [n, 3], "data": [float(v) for v in proba.ravel()]},
        ],
        "targets": [int(v) for v in yte],
        "classes": species,
        "tolerance": {"absolute": 1e-6, "relative": 1e-5},
    }, "multiclass-classification", n, {
        "accuracy": float(metrics.accuracy_score(yte, label)),
        "precision": float(metrics.precision_score(yte, label, average="macro")),
        "recall": float(metrics.recall_score(yte, label, average="macro")),
        "f1": float(metrics.f1_score(yte, label, average="macro")),
        "logLoss": float(metrics.log_loss(yte, proba, labels=[0, 1, 2])),
        "average": "macro",
    }, xtr)
    write_json(os.path.join(MODELS, "penguin_species", "config.json"), {
        "description": "XGBoost (native model.json, converted to ONNX at start or synth): penguin species from island, "
                       "sex, bill, flipper, body mass and year (Palmer penguins; sex and measurements missing for some birds).",
        "task": "classification",
        "labels": species,
        "maxBatchSize": 1024,
        "latencyObjectiveMs": 100,
    })
    print("penguin_species: accuracy %.3f on %d held-out rows" % (metrics.accuracy_score(yte, label), n))


def car_mpg():
    x, y = common.cars()
    xtr, xte, ytr, yte = split(x, y)
    params = {"objective": "regression", "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 5,
              "min_data_per_group": 5, "cat_smooth": 5.0, "max_cat_to_onehot": 1, "verbose": -1,
              "deterministic": True, "num_threads": 1, "seed": SEED, "force_col_wise": True}
    booster = lgb.train(params, lgb.Dataset(xtr, label=ytr, categorical_feature=["make", "origin"]), num_boost_round=60)
    d = version_dir("car_mpg")
    booster.save_model(os.path.join(d, "model.txt"))
    native = lgb.Booster(model_file=os.path.join(d, "model.txt"))
    pred = native.predict(xte)
    n = len(xte)
    write_version(d, {
        "description": "Held-out cars (%d of %d, seed %d) with LightGBM %s's own predictions (Booster.predict on the DataFrame)." % (n, len(x), SEED, lgb.__version__),
        "inputs": golden_inputs(xte, "FP64"),
        "outputs": [{"name": "prediction", "datatype": "FP64", "shape": [n, 1], "data": [float(v) for v in pred]}],
        "targets": [float(v) for v in yte],
        "tolerance": {"absolute": 1e-9, "relative": 1e-9},
    }, "regression", n, {
        "rmse": float(np.sqrt(metrics.mean_squared_error(yte, pred))),
        "mae": float(metrics.mean_absolute_error(yte, pred)),
        "r2": float(metrics.r2_score(yte, pred)),
    }, xtr)
    write_json(os.path.join(MODELS, "car_mpg", "config.json"), {
        "description": "LightGBM (native model.txt, converted to ONNX at start or synth): fuel economy (miles per gallon) "
                       "from make, origin, cylinders, displacement, horsepower, weight, acceleration and model year "
                       "(auto-mpg, 1970-82; horsepower missing for some cars).",
        "task": "regression",
        "maxBatchSize": 1024,
        "latencyObjectiveMs": 100,
    })
    print("car_mpg: rmse %.3f on %d held-out rows" % (np.sqrt(metrics.mean_squared_error(yte, pred)), n))


if __name__ == "__main__":
    penguin_species()
    car_mpg()
