"""Shared helpers of the tree-fixture scripts (make_xgboost.py, make_lightgbm.py).

Runs under Debian's /usr/bin/python3 (numpy 1.24, pandas 1.5, XGBoost 1.7) and under the pinned virtual
environment of the 3.x scripts (see make_xgboost.py), so it uses nothing newer than both have.

A fixture is test/fixtures/trees/<case>/ holding the native model file exactly as save_model wrote it and
expected.json (layout in /work/coord/CONVERSION-CONTRACT.md, "Fixtures"):
  rows        held-out rows keyed by feature name; null = missing; categories as strings
  margin      raw scores, [rows][outputs]
  prediction  what the library's predict() returns, [rows][outputs]
  label       classifiers: the class index the scikit-learn wrapper would give
  probabilities  classifiers: predict_proba's [rows][classes] (for binary models, [1 - p, p])
Every number is a Python float written by json (shortest repr that reads back to the same double), so
float32 outputs appear as the exact double of the float32 the library returned.
"""
import json
import math
import os
import shutil

import numpy as np
import pandas as pd
from sklearn import datasets

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "trees")
REFUSED = os.path.join(ROOT, "test", "fixtures", "trees-refused")
SEED = 7
MAX_ROWS = 200


# ---------------------------------------------------------------- data sets (all shipped inside packages)

def _with_missing(frame, fraction, seed, columns=None):
    """Blank a fraction of cells (the scikit-learn tables have no missing values of their own)."""
    rng = np.random.RandomState(seed)
    frame = frame.copy()
    for col in columns if columns is not None else frame.columns:
        mask = rng.rand(len(frame)) < fraction
        frame.loc[mask, col] = np.nan
    return frame


def diabetes(missing=0.08):
    """scikit-learn's bundled diabetes table (Efron et al. 2004): 442 patients, 10 baseline measures, disease
    progression after one year. The raw (unscaled) values, so age and sex are the recorded numbers."""
    d = datasets.load_diabetes(scaled=False)
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    x = pd.DataFrame(np.asarray(d.data, dtype=np.float64), columns=names)
    if missing:
        x = _with_missing(x, missing, SEED, ["bmi", "bp", "s1", "s5"])
    return x, np.asarray(d.target, dtype=np.float64)


def breast_cancer(missing=0.08, columns=8):
    """scikit-learn's bundled Wisconsin diagnostic breast cancer table: 569 tumours; target 1 = benign.
    The first `columns` features, renamed to identifiers (the originals have spaces)."""
    d = datasets.load_breast_cancer()
    names = [n.replace(" ", "_") for n in d.feature_names[:columns]]
    x = pd.DataFrame(np.asarray(d.data[:, :columns], dtype=np.float64), columns=names)
    if missing:
        x = _with_missing(x, missing, SEED + 1, names[:4])
    return x, np.asarray(d.target, dtype=np.int64)


def wine(missing=0.05):
    """scikit-learn's bundled wine recognition table (UCI): 178 wines, 13 chemical measures, 3 cultivars."""
    d = datasets.load_wine()
    x = pd.DataFrame(np.asarray(d.data, dtype=np.float64), columns=list(d.feature_names))
    x = x.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    if missing:
        x = _with_missing(x, missing, SEED + 2, ["alcohol", "color_intensity", "proline"])
    return x, np.asarray(d.target, dtype=np.int64), [str(n) for n in d.target_names]


def linnerud():
    """scikit-learn's bundled Linnerud table: 20 men, 3 exercises (inputs), 3 physiological measures (targets)."""
    d = datasets.load_linnerud()
    x = pd.DataFrame(np.asarray(d.data, dtype=np.float64), columns=[n.lower() for n in d.feature_names])
    return x, np.asarray(d.target, dtype=np.float64), [n.lower() for n in d.target_names]


def penguins():
    """The Palmer penguins table (Gorman, Williams & Fraser 2014; CC0), as the palmerpenguins package
    ships it: 344 penguins, two categorical features (island; sex, with 11 missing) and numeric
    measurements with missing values of their own. Target: species."""
    import palmerpenguins  # in the 3.x virtual environment only

    df = palmerpenguins.load_penguins()
    x = df[["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]].copy()
    x["island"] = x["island"].astype("category")
    x["sex"] = x["sex"].astype("category")
    x["year"] = x["year"].astype(np.int64)
    species = ["Adelie", "Chinstrap", "Gentoo"]
    y = df["species"].map({s: i for i, s in enumerate(species)}).to_numpy(dtype=np.int64)
    return x, y, species


def cars():
    """The auto-mpg table (StatLib; Quinlan 1993) as the vega_datasets package ships it offline (406 cars,
    8 with no MPG, 6 with no horsepower). Features: make (the first word of the name: 37 spellings among the cars with an MPG, real
    typos included, so categorical splits need bit sets wider than 32), origin (3 regions), and numbers.
    Target: miles per gallon; cars without one are dropped."""
    from vega_datasets import local_data  # in the 3.x virtual environment only

    df = local_data.cars()
    df = df[df["Miles_per_Gallon"].notna()].reset_index(drop=True)
    x = pd.DataFrame({
        "make": df["Name"].str.split().str[0].astype("category"),
        "cylinders": df["Cylinders"].astype(np.int64),
        "displacement": df["Displacement"].astype(np.float64),
        "horsepower": df["Horsepower"].astype(np.float64),
        "weight": df["Weight_in_lbs"].astype(np.float64),
        "acceleration": df["Acceleration"].astype(np.float64),
        "year": pd.to_datetime(df["Year"]).dt.year.astype(np.int64),
        "origin": df["Origin"].astype("category"),
    })
    return x, df["Miles_per_Gallon"].to_numpy(dtype=np.float64)


def split(x, y, test=60, seed=SEED):
    """Shuffle once and hold out `test` rows; returns x_train, x_test, y_train, y_test."""
    order = np.random.RandomState(seed).permutation(len(x))
    te, tr = order[:test], order[test:]
    pick = (lambda a, i: a.iloc[i].reset_index(drop=True)) if hasattr(x, "iloc") else (lambda a, i: a[i])
    return pick(x, tr), pick(x, te), y[tr], y[te]


def ranking_groups(n, size=20):
    """Query ids for a ranking fixture: consecutive groups of `size` rows."""
    return np.arange(n) // size


def relevance(y, levels=4):
    """Graded relevance 0..levels-1 from a continuous target, by its quantiles."""
    edges = np.quantile(y, np.linspace(0, 1, levels + 1)[1:-1])
    return np.searchsorted(edges, y, side="right").astype(np.int64)


# ---------------------------------------------------------------- rows

def add_rows(x_test, extra):
    """Append special rows (dicts keyed by column; absent keys copy the first held-out row) to x_test."""
    if not extra:
        return x_test
    base = x_test.iloc[0].to_dict()
    rows = []
    for e in extra:
        r = dict(base)
        r.update(e)
        rows.append(r)
    out = pd.concat([x_test, pd.DataFrame(rows, columns=x_test.columns)], ignore_index=True)
    for col in x_test.columns:
        if str(x_test[col].dtype) == "category":
            out[col] = out[col].astype("object")
    return out


def threshold_rows(x_test, splits, limit=24):
    """Rows whose value sits exactly on a split threshold read back from the model: for each (feature,
    threshold) pair, copy a held-out row and set that feature to the threshold. `splits` is a list of
    (feature name, threshold as a Python float)."""
    seen, rows = set(), []
    for i, (name, t) in enumerate(splits):
        if (name, t) in seen or not math.isfinite(t):
            continue
        seen.add((name, t))
        r = x_test.iloc[(len(rows) * 7) % len(x_test)].to_dict()
        r[name] = t
        rows.append(r)
        if len(rows) >= limit:
            break
    return rows


def spread(splits, limit):
    """Every k-th split so that the chosen thresholds cover all features and trees, not only the first."""
    uniq = []
    for s in splits:
        if s not in uniq:
            uniq.append(s)
    if len(uniq) <= limit:
        return uniq
    step = len(uniq) / float(limit)
    return [uniq[int(i * step)] for i in range(limit)]


def json_value(v):
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, str):
        return v
    if v is pd.NA or v is pd.NaT:
        return None
    return str(v)


def rows_json(frame, categorical):
    out = []
    for rec in frame.to_dict(orient="records"):
        row = {}
        for k, v in rec.items():
            if k in categorical:
                if isinstance(v, (float, np.floating)) and not math.isnan(v) and float(v).is_integer():
                    v = int(v)  # an integer category that went through a float column (a row with a null)
                row[k] = None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            else:
                row[k] = json_value(v)
        out.append(row)
    return out


def matrix(a, rows):
    """[rows][outputs] of Python floats from whatever shape the library returned."""
    a = np.asarray(a, dtype=np.float64).reshape(rows, -1)
    return [[float(v) for v in r] for r in a]


# ---------------------------------------------------------------- writing

def case_dir(name, refused=False):
    d = os.path.join(REFUSED if refused else FIXTURES, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def write_expected(directory, doc):
    if "rows" in doc:
        assert len(doc["rows"]) <= MAX_ROWS, (directory, len(doc["rows"]))
        n = len(doc["rows"])
        for key in ("margin", "prediction", "probabilities", "label"):
            if key in doc:
                assert len(doc[key]) == n, (directory, key, len(doc[key]), n)
                if key != "label":
                    assert all(math.isfinite(v) for r in doc[key] for v in r), (directory, key)
    with open(os.path.join(directory, "expected.json"), "w") as fh:
        json.dump(doc, fh, indent=None, separators=(",", ":"), allow_nan=False)
        fh.write("\n")


def clean_params(params):
    out = {}
    for k, v in params.items():
        if isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (np.floating,)):
            v = float(v)
        out[k] = v
    return out
