#!/usr/bin/env python3
"""Make the XGBoost tree fixtures: test/fixtures/trees/xgb17_* and xgb3_* (and trees-refused/).

The same script runs under both XGBoost versions, whose saved files differ (1.7: scalar base_score, no
category names, no vector leaves; 3.x: vector base_score, `cats`, multi_output_tree); it writes the cases
of the version it runs under.

XGBoost 1.7 (Debian bookworm's python3-xgboost 1.7.4, numpy 1.24, scikit-learn 1.2, pandas 1.5):

    apt-get update && apt-get install -y python3-xgboost python3-sklearn python3-pandas
    /usr/bin/python3 training/trees/make_xgboost.py

XGBoost 3.x (PyPI, pinned; the virtual environment is gitignored):

    python3 -m venv .venv-trees
    .venv-trees/bin/pip install xgboost==3.2.0 lightgbm==4.7.0 scikit-learn==1.7.2 pandas==2.3.3 palmerpenguins==0.1.6 vega_datasets==0.9.0
    .venv-trees/bin/python training/trees/make_xgboost.py

Optional arguments name the cases to (re)make; none makes all of the running version's cases.
Training is deterministic (fixed seeds, nthread=1), so re-running rewrites the same files.
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

MAJOR = int(xgb.__version__.split(".")[0])
PREFIX = "xgb3" if MAJOR >= 3 else "xgb17"
assert MAJOR >= 3 or xgb.__version__.startswith("1.7"), xgb.__version__

TYPES = {"float": "numeric", "q": "numeric", "int": "integer", "i": "boolean", "c": "categorical"}
CLASSIFIERS = {"binary:logistic", "binary:logitraw", "binary:hinge", "multi:softprob", "multi:softmax"}


def model_json(booster):
    raw = booster.save_raw(raw_format="json")
    return json.loads(bytes(raw).decode("utf-8"))


def numeric_splits(booster, columns):
    """(column, threshold) of every numeric split, thresholds as the float32 the model holds; `columns` name
    the training frame's columns, in the model's feature order."""
    doc = model_json(booster)
    names = list(columns)
    gb = doc["learner"]["gradient_booster"]
    model = gb["gbtree"]["model"] if "gbtree" in gb else gb.get("model", {})
    out = []
    for tree in model.get("trees", []):
        types = tree.get("split_type", [0] * len(tree["left_children"]))
        for node, left in enumerate(tree["left_children"]):
            if left == -1 or types[node] != 0:
                continue
            t = float(np.float32(tree["split_conditions"][node]))
            out.append((names[tree["split_indices"][node]], t))
    return out


def category_lists(x_train):
    return {c: [str(v) for v in x_train[c].cat.categories] for c in x_train.columns if str(x_train[c].dtype) == "category"}


def frame_for_predict(rows, x_train, cats):
    """The rows as the DataFrame a user would pass, with the training categories (XGBoost 3.x re-codes
    them against the names the model recorded in `cats`)."""
    df = rows.copy()
    for col in x_train.columns:
        if col in cats:
            df[col] = pd.Categorical(df[col], categories=cats[col])
        else:
            df[col] = df[col].astype(np.float64)
    return df


def coded_matrix(rows, x_train, cats):
    """The rows as the numeric matrix XGBoost's predictor reads: a category is its index in the model's
    category list, missing is NaN, and a category the model never saw gets the first index past the list.

    XGBoost 3.2's Python API refuses an unseen category name in a DataFrame ("Found a category not in the
    training set"); its C++ predictor sends a code past the split's bit field to the not-in-set side
    (src/common/categorical.h, Decision: `if (pos.int_pos >= cats.size()) return true;`). That is where the
    native library sends an unseen category, and what these fixtures record for such rows."""
    cols = []
    for col in x_train.columns:
        if col in cats:
            index = {c: i for i, c in enumerate(cats[col])}
            cols.append([np.nan if not isinstance(v, str) else index.get(v, len(cats[col])) for v in rows[col].tolist()])
        else:
            cols.append([np.nan if v is None else float(v) for v in rows[col].tolist()])
    return np.asarray(cols, dtype=np.float64).T


def numpy_dmatrix(x, matrix, label=None, qid=None):
    """A DMatrix from a plain float matrix, as from numpy: `matrix` says whether the columns are named and
    which XGBoost feature types they have ('c' = categorical codes; no category names reach the model)."""
    names = list(x.columns) if matrix.get("names", True) else None
    return xgb.DMatrix(x.to_numpy(dtype=np.float64), label=label, qid=qid, feature_names=names,
                       feature_types=matrix.get("types"), enable_categorical=True)


def fit(params, x, y, rounds, qid=None, matrix=None):
    if params.get("sklearn"):
        # The scikit-learn wrapper: its save_model adds learner.attributes.scikit_learn (the estimator's
        # parameters and classes) to the same booster.
        p = {k: v for k, v in params.items() if k not in ("sklearn", "objective", "eta", "num_class")}
        estimator = xgb.XGBClassifier(n_estimators=rounds, learning_rate=params.get("eta", 0.3), random_state=common.SEED,
                                      n_jobs=1, enable_categorical=MAJOR >= 3, **p)
        estimator.fit(x, y)
        return estimator.get_booster(), estimator
    p = dict(params)
    p.setdefault("seed", common.SEED)
    p.setdefault("nthread", 1)
    if matrix is not None:
        dm = numpy_dmatrix(x, matrix, label=y, qid=qid)
    else:
        dm = xgb.DMatrix(x, label=y, enable_categorical=True, qid=qid)
    return xgb.train(p, dm, num_boost_round=rounds), None


def booleans_json(rows, columns):
    """Indicator features (XGBoost type 'i': "boolean columns") as JSON booleans, as a client sends them."""
    for row in rows:
        for c in columns:
            if row[c] is not None:
                assert row[c] in (0.0, 1.0), (c, row[c])
                row[c] = row[c] == 1.0
    return rows


def header(params, rounds, fmt, source):
    return {
        "library": "xgboost",
        "libraryVersion": xgb.__version__,
        "objective": params["objective"],
        "format": fmt,
        "source": source,
        "params": common.clean_params(dict(params, num_boost_round=rounds)),
    }


def make_case(name, params, x_train, y_train, x_test, rounds, fmt="json", qid=None, extra_rows=(),
              source="", threshold_limit=20, matrix=None):
    """Train, save, and write expected.json for one case. `matrix`: train and score from a plain matrix
    (see numpy_dmatrix) instead of a DataFrame."""
    case = "%s_%s" % (PREFIX, name)
    if SELECTED and case not in SELECTED:
        return
    cats = category_lists(x_train)
    booster, estimator = fit(params, x_train, y_train, rounds, qid=qid, matrix=matrix)
    directory = common.case_dir(case)
    (estimator or booster).save_model(os.path.join(directory, "model." + fmt))

    splits = common.spread(numeric_splits(booster, x_train.columns), threshold_limit)
    rows = common.add_rows(x_test, list(extra_rows) + common.threshold_rows(x_test, splits, threshold_limit))
    rows = rows.iloc[:common.MAX_ROWS].reset_index(drop=True)
    n = len(rows)
    if cats:
        dm = xgb.DMatrix(coded_matrix(rows, x_train, cats), feature_names=list(x_train.columns),
                         feature_types=booster.feature_types, enable_categorical=True)
    elif matrix is not None:
        dm = numpy_dmatrix(rows.astype(np.float64), matrix)
    else:
        dm = xgb.DMatrix(frame_for_predict(rows, x_train, cats))
    margin = booster.predict(dm, output_margin=True)
    pred = booster.predict(dm)
    if cats:
        check_recoding(booster, rows, cats, margin, x_train)
    if estimator is not None:
        # The wrapper's own predict_proba on the same rows gives the booster's answer.
        assert np.array_equal(estimator.predict_proba(frame_for_predict(rows, x_train, cats)), np.asarray(pred).reshape(len(rows), -1))

    names = booster.feature_names or ["f%d" % i for i in range(booster.num_features())]
    ftypes = booster.feature_types or ["float"] * len(names)
    if booster.feature_names is None:
        rows = rows.set_axis(names, axis=1)
    features = []
    for fname, ft in zip(names, ftypes):
        f = {"name": fname, "type": TYPES.get(ft, "numeric")}
        if fname in cats:
            f["categories"] = cats[fname]
        features.append(f)
    doc = dict(header(params, rounds, fmt, source), **{
        "features": features,
        "rows": booleans_json(common.rows_json(rows, cats), [f for f, t in zip(names, ftypes) if t == "i"]),
        "margin": common.matrix(margin, n),
        "prediction": common.matrix(pred, n),
    })
    obj = params["objective"]
    if obj in CLASSIFIERS:
        m = np.asarray(margin, dtype=np.float64).reshape(n, -1)
        p = np.asarray(pred, dtype=np.float64).reshape(n, -1)
        if obj == "binary:logistic":
            doc["label"] = [int(v > 0.5) for v in p[:, 0]]
            doc["probabilities"] = [[float(1 - np.float32(v)), float(v)] for v in np.asarray(pred).ravel()]
        elif obj == "binary:logitraw":
            doc["label"] = [int(v > 0) for v in m[:, 0]]
        elif obj == "binary:hinge":
            doc["label"] = [int(v) for v in p[:, 0]]
        elif obj == "multi:softprob":
            doc["label"] = [int(np.argmax(r)) for r in p]
            doc["probabilities"] = doc["prediction"]
        elif obj == "multi:softmax":
            doc["label"] = [int(v) for v in p[:, 0]]
        doc["classes"] = CLASSES.get(case) or [str(i) for i in range(max(2, m.shape[1]))]
    common.write_expected(directory, doc)
    print("%-40s %-22s rows=%3d trees=%s size=%d" % (case, obj, n, booster.num_boosted_rounds(),
                                                      os.path.getsize(os.path.join(directory, "model." + fmt))))
    return booster


def check_recoding(booster, rows, cats, margin, x_train):
    """On every row without an unseen category, the coded matrix must give what XGBoost gives for the same
    rows as a DataFrame of named categories (re-coded by XGBoost 3.x against the model's `cats`)."""
    known = np.ones(len(rows), dtype=bool)
    for col in cats:
        known &= np.array([not isinstance(v, str) or v in cats[col] for v in rows[col].tolist()])
    df = frame_for_predict(rows[known].reset_index(drop=True), x_train, cats)
    ref = booster.predict(xgb.DMatrix(df, enable_categorical=True), output_margin=True)
    a = np.asarray(margin).reshape(len(rows), -1)[known]
    assert np.array_equal(a, np.asarray(ref).reshape(len(a), -1)), "re-coding check failed"
    assert known.sum() < len(rows), "no unseen category row"


CLASSES = {}
SELECTED = set(sys.argv[1:])


def penguin_extra():
    return [
        {"island": "Atlantis"},                              # unseen island
        {"sex": "unknown"},                                  # unseen sex
        {"island": None, "sex": None},                       # categories missing
        {"island": "Biscoe", "sex": "male", "bill_length_mm": None, "bill_depth_mm": None,
         "flipper_length_mm": None, "body_mass_g": None},    # numbers missing
        {"island": "Dream", "sex": "female"},
        {"island": "Torgersen", "sex": "female"},
    ]


def numeric_extra(x):
    """An all-missing row and a row of each feature's training minimum and maximum."""
    return [{c: None for c in x.columns}, x.min().to_dict(), x.max().to_dict()]


def make_refused(name, params, x, rounds, label=None, lower=None, upper=None, fmt="json", reason="", source=""):
    """A model the converter must refuse: the native file and expected.json naming what the refusal must
    mention (the objective), with no rows."""
    case = "%s_%s" % (PREFIX, name)
    if SELECTED and case not in SELECTED:
        return
    dm = xgb.DMatrix(x, label=label)
    if lower is not None:
        dm.set_float_info("label_lower_bound", lower)
        dm.set_float_info("label_upper_bound", upper)
    p = dict(params, seed=common.SEED, nthread=1)
    booster = xgb.train(p, dm, num_boost_round=rounds)
    directory = common.case_dir(case, refused=True)
    booster.save_model(os.path.join(directory, "model." + fmt))
    common.write_expected(directory, dict(header(params, rounds, fmt, source),
                                          refusal={"mentions": [params["objective"]], "reason": reason}))
    print("%-40s %-22s refused" % (case, params["objective"]))


SURVIVAL = ("a survival objective: issue 24 lists survival:aft and survival:cox as refused (their answers, a "
            "survival time or a hazard ratio against a baseline the file does not hold, are neither a class nor a "
            "regression value in the ONNX contract); the refusal must name the objective")


def refused():
    x, y = common.diabetes()
    # Survival on the diabetes table: progression as the time, values above 200 right-censored.
    censored = y > 200
    lower = y.astype(np.float64)
    upper = np.where(censored, np.inf, y).astype(np.float64)
    make_refused("survival_aft", {"objective": "survival:aft", "aft_loss_distribution": "normal",
                                  "aft_loss_distribution_scale": 1.2, "max_depth": 3, "eta": 0.3},
                 x, 10, lower=lower, upper=upper, fmt="json", source="sklearn diabetes (progression > 200 censored)",
                 reason=SURVIVAL)
    make_refused("survival_cox", {"objective": "survival:cox", "max_depth": 3, "eta": 0.3},
                 x, 10, label=np.where(censored, -y, y), fmt="ubj", source="sklearn diabetes (progression > 200 censored)",
                 reason=SURVIVAL)

def main():
    refused()
    # ---- regression on the diabetes table (missing values blanked at random)
    x, y = common.diabetes()
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    small = {"max_depth": 3, "eta": 0.3}
    make_case("reg_squarederror", dict(small, objective="reg:squarederror"), xtr, ytr, xte, 20,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_squarederror_ubj", dict(small, objective="reg:squarederror", base_score=150.0), xtr, ytr, xte, 15,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_squaredlogerror", dict(small, objective="reg:squaredlogerror"), xtr, ytr, xte, 15,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_pseudohubererror", dict(small, objective="reg:pseudohubererror", huber_slope=20.0), xtr, ytr, xte, 15,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_absoluteerror", dict(small, objective="reg:absoluteerror"), xtr, ytr, xte, 15,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("count_poisson", dict(small, objective="count:poisson"), xtr, ytr, xte, 15,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_gamma", dict(small, objective="reg:gamma"), xtr, ytr, xte, 15,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("reg_tweedie", dict(small, objective="reg:tweedie", tweedie_variance_power=1.4), xtr, ytr, xte, 15,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("dart", dict(small, objective="reg:squarederror", booster="dart", rate_drop=0.3, skip_drop=0.0,
                           sample_type="weighted", normalize_type="forest"), xtr, ytr, xte, 12,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("gblinear", dict(objective="reg:squarederror", booster="gblinear", eta=0.5, updater="coord_descent",
                               feature_selector="cyclic"), xtr, ytr, xte, 20,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    make_case("rf_regression", dict(objective="reg:squarederror", max_depth=4, eta=1.0, num_parallel_tree=6,
                                    subsample=0.7, colsample_bynode=0.7), xtr, ytr, xte, 1,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn diabetes")
    if MAJOR >= 3:
        make_case("reg_quantileerror", dict(small, objective="reg:quantileerror", quantile_alpha=[0.1, 0.5, 0.9]),
                  xtr, ytr, xte, 15, fmt="json", extra_rows=numeric_extra(xtr), source="sklearn diabetes")

    # ---- ranking: diabetes rows in queries of 20, relevance = progression quartile
    rel = common.relevance(y)
    xtr, xte, rtr, rte = common.split(x, rel, test=60)
    qid = common.ranking_groups(len(xtr))
    for obj, fmt in (("rank:pairwise", "json"), ("rank:ndcg", "ubj"), ("rank:map", "json")):
        ytr_obj = (rtr >= 2).astype(np.int64) if obj == "rank:map" else rtr
        make_case(obj.replace(":", "_"), dict(small, objective=obj), xtr, ytr_obj, xte, 15, fmt=fmt, qid=qid,
                  extra_rows=numeric_extra(xtr), source="sklearn diabetes (queries of 20 rows, quartile relevance)")

    # ---- binary classification on breast cancer (missing values blanked at random)
    x, y = common.breast_cancer()
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    for obj, fmt in (("binary:logistic", "ubj"), ("binary:logitraw", "json"), ("binary:hinge", "json"),
                     ("reg:logistic", "json")):
        make_case(obj.replace(":", "_"), dict(small, objective=obj), xtr, ytr, xte, 15, fmt=fmt,
                  extra_rows=numeric_extra(xtr), source="sklearn breast_cancer")
    make_case("binary_logistic_base_score", dict(small, objective="binary:logistic", base_score=0.3), xtr, ytr, xte, 8,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn breast_cancer")
    make_case("rf_binary", dict(objective="binary:logistic", max_depth=4, eta=0.5, num_parallel_tree=5, subsample=0.7,
                                colsample_bynode=0.6), xtr, ytr, xte, 3,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn breast_cancer")
    make_case("dart_binary", dict(small, objective="binary:logistic", booster="dart", rate_drop=0.25, skip_drop=0.0,
                                  sample_type="uniform", normalize_type="tree"), xtr, ytr, xte, 10,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn breast_cancer")
    make_case("gblinear_binary", dict(objective="binary:logistic", booster="gblinear", eta=0.3), xtr, ytr, xte, 15,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn breast_cancer")

    # ---- multi-class on wine (missing values blanked at random)
    x, y, names = common.wine()
    xtr, xte, ytr, yte = common.split(x, y, test=50)
    for obj, fmt in (("multi:softprob", "json"), ("multi:softmax", "ubj")):
        CLASSES["%s_%s" % (PREFIX, obj.replace(":", "_"))] = names
        make_case(obj.replace(":", "_"), dict(small, objective=obj, num_class=3), xtr, ytr, xte, 10, fmt=fmt,
                  extra_rows=numeric_extra(xtr), source="sklearn wine")
    CLASSES["%s_sklearn_classifier" % PREFIX] = names
    make_case("sklearn_classifier", dict(objective="multi:softprob", sklearn=True, max_depth=3, eta=0.3), xtr, ytr, xte, 8,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn wine (XGBClassifier.save_model)")
    CLASSES["%s_rf_multiclass" % PREFIX] = names
    make_case("rf_multiclass", dict(objective="multi:softprob", num_class=3, max_depth=3, eta=0.8, num_parallel_tree=3,
                                    subsample=0.8, colsample_bynode=0.7), xtr, ytr, xte, 3,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn wine")
    CLASSES["%s_gblinear_multiclass" % PREFIX] = names
    make_case("gblinear_multiclass", dict(objective="multi:softprob", num_class=3, booster="gblinear", eta=0.3),
              xtr.fillna(xtr.mean()), ytr, xte, 10, fmt="json", extra_rows=numeric_extra(xtr), source="sklearn wine")

    # ---- multi-target regression on Linnerud (3 targets); all 20 rows are scored (no hold-out: 20 rows only)
    x, y, targets = common.linnerud()
    make_case("multi_target", dict(objective="reg:squarederror", max_depth=2, eta=0.3, multi_strategy="one_output_per_tree")
              if MAJOR >= 3 else dict(objective="reg:squarederror", max_depth=2, eta=0.3),
              x, y, x.copy(), 10, fmt="json", extra_rows=numeric_extra(x), source="sklearn linnerud")
    if MAJOR >= 3:
        make_case("multi_target_vector_leaf", dict(objective="reg:squarederror", max_depth=2, eta=0.3,
                                                    multi_strategy="multi_output_tree", tree_method="hist"),
                  x, y, x.copy(), 10, fmt="ubj", extra_rows=numeric_extra(x), source="sklearn linnerud")

    # ---- no feature names (a model trained from a numpy array): features are f0, f1, ...
    x, y, names = common.wine()
    xtr, xte, ytr, yte = common.split(x, y, test=50)
    make_case("multi_softprob_unnamed", dict(small, objective="multi:softprob", num_class=3), xtr, ytr, xte, 6,
              fmt="ubj", extra_rows=numeric_extra(xtr), source="sklearn wine (numpy, no feature names)",
              matrix={"names": False})
    CLASSES["%s_dart_multiclass" % PREFIX] = names
    make_case("dart_multiclass", dict(small, objective="multi:softprob", num_class=3, booster="dart", rate_drop=0.2,
                                      skip_drop=0.0), xtr, ytr, xte, 8,
              fmt="json", extra_rows=numeric_extra(xtr), source="sklearn wine")
    if MAJOR >= 3:
        CLASSES["xgb3_multi_softprob_vector_leaf"] = names
        make_case("multi_softprob_vector_leaf", dict(small, objective="multi:softprob", num_class=3,
                                                      multi_strategy="multi_output_tree", tree_method="hist"),
                  xtr, ytr, xte, 6, fmt="json", extra_rows=numeric_extra(xtr), source="sklearn wine")

    # ---- categorical codes from a plain matrix (feature type 'c', no category names in the model):
    # diabetes' sex recorded as 1/2, fed as codes 0/1; rows include an unseen code (5) and a missing one
    x, y = common.diabetes()
    x["sex"] = x["sex"] - 1
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    types = ["c" if c == "sex" else "q" for c in x.columns]
    make_case("reg_squarederror_cat_codes", dict(small, objective="reg:squarederror", max_cat_to_onehot=1,
                                                 tree_method="hist"), xtr, ytr, xte, 15,
              fmt="json", extra_rows=numeric_extra(xtr) + [{"sex": 5.0}, {"sex": None}, {"sex": 0.0}, {"sex": 1.0}],
              source="sklearn diabetes (sex as categorical codes 0/1)", matrix={"types": types})

    # ---- an indicator (boolean) feature, XGBoost type 'i': diabetes' sex recorded 1/2, fed as male = 0/1
    x, y = common.diabetes()
    x["sex"] = (x["sex"] == 2).astype(np.float64)
    xtr, xte, ytr, yte = common.split(x, y, test=60)
    make_case("reg_squarederror_indicator", dict(small, objective="reg:squarederror"), xtr, ytr, xte, 12,
              fmt="ubj", extra_rows=numeric_extra(xtr) + [{"sex": None}, {"sex": 0.0}, {"sex": 1.0}],
              source="sklearn diabetes (sex as an indicator)",
              matrix={"types": ["i" if c == "sex" else "float" for c in x.columns]})

    # ---- XGBoost 3.x native categories (`cats`) on the Palmer penguins (real missing values)
    if MAJOR >= 3:
        x, y, species = common.penguins()
        xtr, xte, ytr, yte = common.split(x, y, test=70)
        adelie_tr = (ytr == 0).astype(np.int64)
        make_case("binary_logistic_cat", dict(small, objective="binary:logistic", max_cat_to_onehot=1, tree_method="hist"),
                  xtr, adelie_tr, xte, 15, fmt="json", extra_rows=penguin_extra(), source="palmerpenguins (Adelie or not)")
        make_case("binary_logitraw_cat_onehot", dict(small, objective="binary:logitraw", max_cat_to_onehot=8,
                                                     tree_method="hist"),
                  xtr, adelie_tr, xte, 15, fmt="ubj", extra_rows=penguin_extra(), source="palmerpenguins (Adelie or not)")
        CLASSES["xgb3_multi_softprob_cat"] = species
        make_case("multi_softprob_cat", dict(small, objective="multi:softprob", num_class=3, max_cat_to_onehot=1,
                                             tree_method="hist"),
                  xtr, ytr, xte, 12, fmt="json", extra_rows=penguin_extra(), source="palmerpenguins (species)")
        CLASSES["xgb3_multi_softmax_cat"] = species
        make_case("multi_softmax_cat", dict(small, objective="multi:softmax", num_class=3, max_cat_to_onehot=1,
                                            tree_method="approx"),
                  xtr, ytr, xte, 8, fmt="ubj", extra_rows=penguin_extra(), source="palmerpenguins (species)")
        # 37 makes of car: partition splits whose category sets span more than one 32-bit word
        x, y = common.cars()
        xtr, xte, ytr, yte = common.split(x, y, test=70)
        make_case("reg_squarederror_many_cats", dict(small, objective="reg:squarederror", max_cat_to_onehot=1,
                                                     max_cat_threshold=64, tree_method="hist", max_depth=4),
                  xtr, ytr, xte, 20, fmt="ubj", extra_rows=[{"make": "tesla"}, {"make": None, "horsepower": None},
                                                            {"make": "vw"}, {"make": "volvo"}, {"origin": "Mars"}],
                  source="vega_datasets cars (auto-mpg)")
        x, y, species = common.penguins()
        xtr, xte, ytr, yte = common.split(x, y, test=70)
        mass_x = xtr.drop(columns=["body_mass_g"])
        keep = ~np.isnan(xtr["body_mass_g"].to_numpy())
        make_case("reg_squarederror_cat", dict(small, objective="reg:squarederror", max_cat_to_onehot=1, tree_method="hist"),
                  mass_x[keep].reset_index(drop=True), xtr["body_mass_g"].to_numpy()[keep],
                  xte.drop(columns=["body_mass_g"]), 15, fmt="json",
                  extra_rows=[{k: v for k, v in r.items() if k != "body_mass_g"} for r in penguin_extra()],
                  source="palmerpenguins (body mass)")


if __name__ == "__main__":
    main()
