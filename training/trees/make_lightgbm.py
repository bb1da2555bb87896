#!/usr/bin/env python3
"""Make the LightGBM tree fixtures: test/fixtures/trees/lgb_*.

LightGBM from PyPI, pinned, in the same gitignored virtual environment as make_xgboost.py's 3.x run:

    python3 -m venv .venv-trees
    .venv-trees/bin/pip install xgboost==3.2.0 lightgbm==4.7.0 scikit-learn==1.7.2 pandas==2.3.3 palmerpenguins==0.1.6 vega_datasets==0.9.0
    .venv-trees/bin/python training/trees/make_lightgbm.py

Optional arguments name the cases to (re)make; none makes them all. Training is deterministic
(deterministic=True, num_threads=1, fixed seeds), so re-running rewrites the same files.

Rows are scored with Booster.predict on a pandas DataFrame, as a user would: categorical columns are pandas
categories holding the rows' own values, which LightGBM maps onto the training categories it saved in
`pandas_categorical` (an unseen category becomes NaN there, lightgbm/basic.py _data_from_pandas).
"""
import os
import re
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

SELECTED = set(sys.argv[1:])
BASE = {"num_leaves": 8, "learning_rate": 0.2, "min_data_in_leaf": 5, "verbose": -1, "deterministic": True,
        "num_threads": 1, "seed": common.SEED, "force_col_wise": True}


def numeric_splits(booster, columns):
    """(column, threshold) of every numerical split, thresholds as the doubles model.txt holds; `columns`
    name the training frame's columns in the model's feature order."""
    text = booster.model_to_string()
    names = list(columns)
    out = []
    for block in text.split("\nTree=")[1:]:
        fields = dict(line.split("=", 1) for line in block.split("\n") if "=" in line)
        if "split_feature" not in fields:
            continue
        feats = [int(v) for v in fields["split_feature"].split()]
        thresholds = [float(v) for v in fields["threshold"].split()]
        kinds = [int(v) for v in fields["decision_type"].split()]
        for f, t, k in zip(feats, thresholds, kinds):
            if k & 1 == 0:
                out.append((names[f], t))
    return out


def frame_for_predict(rows, cats):
    df = rows.copy()
    for col, categories in cats.items():
        values = df[col].tolist()
        typed = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]
        if all(isinstance(c, (int, np.integer)) for c in categories):
            typed = [None if v is None else int(v) for v in typed]
        extra = sorted({v for v in typed if v is not None} - set(categories), key=str)
        df[col] = pd.Categorical(typed, categories=list(categories) + extra)
    for col in df.columns:
        if col not in cats:
            df[col] = df[col].astype(np.float64)
    return df


def make_case(name, params, x_train, y_train, x_test, rounds, extra_rows=(), source="", group=None,
              threshold_limit=20, classes=None, matrix=None):
    """Train, save, and write expected.json for one case. `matrix`: train and score from a plain float
    matrix, as from numpy: {"names": False} leaves LightGBM to name the columns Column_0...; "categorical"
    lists columns that are categorical integer codes (no pandas_categorical in the model)."""
    case = "lgb_" + name
    if SELECTED and case not in SELECTED:
        return
    cats = {c: list(x_train[c].cat.categories) for c in x_train.columns if str(x_train[c].dtype) == "category"}
    p = dict(BASE, **params)
    if matrix is not None:
        code_cols = [list(x_train.columns).index(c) for c in matrix.get("categorical", [])]
        ds = lgb.Dataset(x_train.to_numpy(dtype=np.float64), label=y_train, group=group, free_raw_data=False,
                         feature_name=list(x_train.columns) if matrix.get("names", True) else "auto",
                         categorical_feature=code_cols or "auto")
    else:
        ds = lgb.Dataset(x_train, label=y_train, group=group, categorical_feature=list(cats) or "auto",
                         free_raw_data=False)
    booster = lgb.train(p, ds, num_boost_round=rounds)
    directory = common.case_dir(case)
    path = os.path.join(directory, "model.txt")
    booster.save_model(path)

    splits = common.spread(numeric_splits(booster, x_train.columns), threshold_limit)
    rows = common.add_rows(x_test, list(extra_rows) + common.threshold_rows(x_test, splits, threshold_limit))
    rows = rows.iloc[:common.MAX_ROWS].reset_index(drop=True)
    # The model as written, not the in-memory booster, is what the fixture pins.
    native = lgb.Booster(model_file=path)
    df = rows.to_numpy(dtype=np.float64) if matrix is not None else frame_for_predict(rows, cats)
    n = len(rows)
    margin = native.predict(df, raw_score=True)
    pred = native.predict(df)
    assert np.array_equal(np.asarray(pred), np.asarray(booster.predict(df))), "saved model differs from the trained one"

    features = []
    coded = set(matrix.get("categorical", [])) if matrix is not None else set()
    if native.feature_name() != list(rows.columns):
        rows = rows.set_axis(native.feature_name(), axis=1)
    for fname in native.feature_name():
        f = {"name": fname, "type": "categorical" if fname in cats or fname in coded else "numeric"}
        if fname in cats:
            f["categories"] = [str(c) for c in cats[fname]]
        features.append(f)
    doc = {
        "library": "lightgbm",
        "libraryVersion": lgb.__version__,
        "objective": params["objective"],
        "format": "txt",
        "source": source,
        "params": common.clean_params(dict(params, num_boost_round=rounds)),
        "features": features,
        "rows": common.rows_json(rows, set(cats)),
        "margin": common.matrix(margin, n),
        "prediction": common.matrix(pred, n),
    }
    obj = params["objective"]
    if obj == "binary":
        pv = np.asarray(pred, dtype=np.float64).ravel()
        doc["probabilities"] = [[float(1.0 - v), float(v)] for v in pv]
        doc["label"] = [int(v > 0.5) for v in pv]
        doc["classes"] = classes or ["0", "1"]
    elif obj in ("multiclass", "multiclassova"):
        pm = np.asarray(pred, dtype=np.float64).reshape(n, -1)
        doc["probabilities"] = doc["prediction"]
        doc["label"] = [int(np.argmax(r)) for r in pm]
        doc["classes"] = classes or [str(i) for i in range(pm.shape[1])]
    common.write_expected(directory, doc)
    print("%-34s %-16s rows=%3d trees=%3d size=%d" % (case, obj, n, native.num_trees(), os.path.getsize(path)))


def numeric_extra(x):
    return [{c: None for c in x.columns}, x.min().to_dict(), x.max().to_dict()]


def penguin_extra(drop=()):
    rows = [
        {"island": "Atlantis"},
        {"sex": "unknown"},
        {"island": None, "sex": None},
        {"island": "Biscoe", "sex": "male", "bill_length_mm": None, "bill_depth_mm": None,
         "flipper_length_mm": None, "body_mass_g": None},
        {"island": "Dream", "sex": "female"},
        {"island": "Torgersen", "sex": "female"},
    ]
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def main():
    # ---- regression family on the diabetes table (missing values blanked at random)
    x, y = common.diabetes()
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    src = "sklearn diabetes"
    ex = numeric_extra(xtr)
    make_case("regression", {"objective": "regression"}, xtr, ytr, xte, 20, ex, src)
    make_case("regression_l1", {"objective": "regression_l1"}, xtr, ytr, xte, 15, ex, src)
    make_case("huber", {"objective": "huber", "alpha": 30.0}, xtr, ytr, xte, 15, ex, src)
    make_case("fair", {"objective": "fair", "fair_c": 10.0}, xtr, ytr, xte, 15, ex, src)
    make_case("quantile", {"objective": "quantile", "alpha": 0.9}, xtr, ytr, xte, 15, ex, src)
    make_case("mape", {"objective": "mape"}, xtr, ytr, xte, 15, ex, src)
    make_case("poisson", {"objective": "poisson"}, xtr, ytr, xte, 15, ex, src)
    make_case("gamma", {"objective": "gamma"}, xtr, ytr, xte, 15, ex, src)
    make_case("tweedie", {"objective": "tweedie", "tweedie_variance_power": 1.3}, xtr, ytr, xte, 15, ex, src)
    make_case("dart", {"objective": "regression", "boosting": "dart", "drop_rate": 0.3, "skip_drop": 0.0},
              xtr, ytr, xte, 12, ex, src)
    make_case("rf_regression", {"objective": "regression", "boosting": "rf", "bagging_freq": 1,
                                "bagging_fraction": 0.7, "feature_fraction": 0.8}, xtr, ytr, xte, 8, ex, src)
    make_case("linear_tree", {"objective": "regression", "linear_tree": True, "linear_lambda": 0.1, "num_leaves": 4},
              xtr, ytr, xte, 8, ex, src)
    make_case("use_missing_false", {"objective": "regression", "use_missing": False}, xtr, ytr, xte, 10, ex, src)

    # ---- a plain matrix with no feature names (LightGBM names them Column_0, ...)
    make_case("regression_unnamed", {"objective": "regression"}, xtr, ytr, xte, 8, ex, src + " (numpy, no names)",
              matrix={"names": False})
    # ---- categorical integer codes from a plain matrix (no pandas_categorical): sex 1/2 as codes 0/1;
    # rows include an unseen code (5), a negative one (-1) and a missing one
    xc = x.copy()
    xc["sex"] = xc["sex"] - 1
    xctr, xcte, yctr, _ = common.split(xc, y, test=60)
    make_case("regression_cat_codes", {"objective": "regression", "max_cat_to_onehot": 1, "min_data_per_group": 5,
                                       "cat_smooth": 1.0, "cat_l2": 0.5},
              xctr, yctr, xcte, 15, numeric_extra(xctr) + [{"sex": 5.0}, {"sex": -1.0}, {"sex": None}, {"sex": 0.0},
                                                           {"sex": 1.0}],
              src + " (sex as categorical codes 0/1)", matrix={"categorical": ["sex"]})

    # ---- ranking: queries of 20 rows, relevance = progression quartile
    rel = common.relevance(y)
    xtr, xte, rtr, rte = common.split(x, rel, test=60)
    groups = [20] * (len(xtr) // 20) + ([len(xtr) % 20] if len(xtr) % 20 else [])
    src = "sklearn diabetes (queries of 20 rows, quartile relevance)"
    make_case("lambdarank", {"objective": "lambdarank"}, xtr, rtr, xte, 12, numeric_extra(xtr), src, group=groups)
    make_case("rank_xendcg", {"objective": "rank_xendcg"}, xtr, rtr, xte, 12, numeric_extra(xtr), src, group=groups)

    # ---- binary on breast cancer (missing values blanked at random; the concavity columns hold real zeros)
    x, y = common.breast_cancer()
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    src = "sklearn breast_cancer"
    ex = numeric_extra(xtr)
    names = ["malignant", "benign"]
    make_case("binary", {"objective": "binary"}, xtr, ytr, xte, 15, ex, src, classes=names)
    make_case("cross_entropy", {"objective": "cross_entropy"}, xtr, ytr.astype(np.float64), xte, 15, ex, src)
    make_case("rf_binary", {"objective": "binary", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.6,
                            "feature_fraction": 0.7}, xtr, ytr, xte, 6, ex, src, classes=names)
    make_case("zero_as_missing", {"objective": "binary", "zero_as_missing": True}, xtr, ytr, xte, 10,
              ex + [{"mean_concavity": 0.0, "mean_concave_points": 0.0}], src, classes=names)

    # ---- multi-class on wine
    x, y, wines = common.wine()
    xtr, xte, ytr, yte = common.split(x, y, test=50)
    make_case("multiclassova", {"objective": "multiclassova", "num_class": 3}, xtr, ytr, xte, 8,
              numeric_extra(xtr), "sklearn wine", classes=wines)

    # ---- categorical (pandas_categorical) on the Palmer penguins, with their own missing values
    x, y, species = common.penguins()
    xtr, xte, ytr, yte = common.split(x, y, test=70)
    src = "palmerpenguins"
    # sex from species (categorical), island (categorical) and measurements; rows of unknown sex not trained on
    xs, ys = x.drop(columns=["sex"]), x["sex"]
    xs.insert(0, "species", pd.Categorical([species[i] for i in y], categories=species))
    known = ys.notna().to_numpy()
    xs_tr, xs_te, ys_tr, _ = common.split(xs[known].reset_index(drop=True), (ys[known] == "male").to_numpy(dtype=np.int64),
                                          test=70)
    make_case("binary_cat", {"objective": "binary", "max_cat_to_onehot": 1, "min_data_per_group": 3, "cat_smooth": 1.0,
                             "cat_l2": 0.5, "min_data_in_leaf": 3},
              xs_tr, ys_tr, xs_te, 15,
              [{"species": "Emperor"}, {"island": "Atlantis"}, {"species": None, "island": None},
               {"species": "Gentoo", "bill_length_mm": None, "bill_depth_mm": None, "flipper_length_mm": None,
                "body_mass_g": None}, {"species": "Adelie", "island": "Dream"}, {"species": "Chinstrap"}],
              src + " (sex from species, island and measurements)", classes=["female", "male"])
    make_case("multiclass_cat", {"objective": "multiclass", "num_class": 3, "min_data_per_group": 5},
              xtr, ytr, xte, 10, penguin_extra(), src + " (species)", classes=species)
    keep = ~np.isnan(xtr["body_mass_g"].to_numpy())
    xm = xtr.drop(columns=["body_mass_g"])[keep].reset_index(drop=True)
    make_case("regression_cat", {"objective": "regression", "max_cat_to_onehot": 1, "min_data_per_group": 5,
                                 "cat_smooth": 1.0},
              xm, xtr["body_mass_g"].to_numpy()[keep], xte.drop(columns=["body_mass_g"]), 15,
              penguin_extra(drop=("body_mass_g",)), src + " (body mass)")
    # 37 makes of car: categorical bit sets wider than one 32-bit word
    x, y = common.cars()
    xtr, xte, ytr, yte = common.split(x, y, test=70)
    make_case("regression_many_cats", {"objective": "regression", "max_cat_to_onehot": 1, "min_data_per_group": 2,
                                       "cat_smooth": 1.0, "cat_l2": 0.5, "max_cat_threshold": 64,
                                       "min_data_in_leaf": 3},
              xtr, ytr, xte, 20, [{"make": "tesla"}, {"make": None, "horsepower": None}, {"make": "vw"},
                                  {"make": "volvo"}, {"origin": "Mars"}], "vega_datasets cars (auto-mpg)")

    # year as an integer-valued categorical: pandas_categorical holds numbers, rows carry them as strings
    x, y, species = common.penguins()
    xtr, xte, ytr, yte = common.split(x, y, test=70)
    xy = xtr.copy()
    xy["year"] = xy["year"].astype("category")
    xe = xte.copy()
    xe["year"] = xe["year"].astype("category")
    make_case("multiclass_int_cat", {"objective": "multiclass", "num_class": 3, "min_data_per_group": 5,
                                     "max_cat_to_onehot": 1, "cat_smooth": 1.0},
              xy, ytr, xe, 8, penguin_extra() + [{"year": 2031}, {"year": None}], src + " (species; year categorical)",
              classes=species)


if __name__ == "__main__":
    main()
