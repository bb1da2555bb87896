"""PMML fixtures (issue 25): test/fixtures/pmml/<case>/{model.pmml, expected.json}.

Two kinds of case:
  sk_*    scikit-learn pipelines exported by sklearn2pmml; expected outputs are scikit-learn's own
          predict / predict_proba on the held-out rows (the producing tool).
  hand_*  hand-written documents (training/pmml/documents/) for what sklearn2pmml does not write
          (other normalizations, transformations, tree missing-value strategies, segmentation methods);
          expected outputs are JPMML-Evaluator's (jpmml_evaluator, the reference PMML evaluator).
Every case is also scored by a second evaluator (pypmml; and jpmml_evaluator for sk_* cases); where it
disagrees with the expected output beyond 1e-9 relative, expected.json records it under "disagreements".

Run (Java 17 from Debian's openjdk-17-jre-headless for sklearn2pmml, jpmml_evaluator and pypmml):
    python3 -m venv .venv-pmml
    .venv-pmml/bin/pip install scikit-learn==1.6.1 sklearn2pmml==0.133.1 pypmml==1.5.8 jpmml-evaluator==0.16.0 \
        pandas==2.2.3 numpy==2.4.6 palmerpenguins==0.1.6
    .venv-pmml/bin/python training/pmml/make_fixtures.py [case ...]

Data: scikit-learn's bundled iris, wine and diabetes tables (cells blanked at random, seeded, for missing
values) and the Palmer penguins (palmerpenguins package, CC0: genuine categorical island and sex, with
their own missing values).
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
import sklearn2pmml
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import GammaRegressor, LinearRegression, LogisticRegression, PoissonRegressor, TweedieRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn2pmml import sklearn2pmml as export
from sklearn2pmml.decoration import CategoricalDomain, ContinuousDomain
from sklearn2pmml.pipeline import PMMLPipeline

warnings.filterwarnings("ignore")
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "pmml")
DOCUMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "documents")
SEED = 11
MAX_ROWS = 60
TOLERANCE = 1e-9


# ---------------------------------------------------------------- data

def blank(frame, fraction, seed, columns):
    rng = np.random.RandomState(seed)
    frame = frame.copy()
    for col in columns:
        frame.loc[rng.rand(len(frame)) < fraction, col] = np.nan
    return frame


def iris():
    d = datasets.load_iris()
    x = pd.DataFrame(d.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    return x, pd.Series([str(d.target_names[t]) for t in d.target], name="species")


def wine():
    d = datasets.load_wine()
    cols = ["alcohol", "malic_acid", "ash", "alcalinity", "magnesium", "phenols", "flavanoids", "nonflavanoid", "proanthocyanins", "color", "hue", "od280", "proline"]
    x = pd.DataFrame(d.data, columns=cols)
    return x, pd.Series([f"cultivar_{t}" for t in d.target], name="cultivar")


def diabetes():
    d = datasets.load_diabetes(scaled=False)
    x = pd.DataFrame(d.data, columns=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"])
    return x, pd.Series(d.target, name="progression")


def penguins():
    import palmerpenguins
    d = palmerpenguins.load_penguins()
    d = d.dropna(subset=["species"]).reset_index(drop=True)
    x = d[["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]].copy()
    x["sex"] = x["sex"].astype(object)
    return x, d["species"].astype(str).rename("species")


# ---------------------------------------------------------------- helpers

def jsonable(v):
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def rows_of(frame):
    return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), 1e-300) or a == b


def features_of(frame, categorical):
    out = []
    for c in frame.columns:
        if c in categorical:
            out.append({"name": c, "type": "categorical"})
        else:
            out.append({"name": c, "type": "numeric"})
    return out


def second_evaluators(path, frame, task, classes, expected_values, expected_labels, skip_jpmml=False):
    """Scores the rows with pypmml and jpmml_evaluator; returns disagreements with the expected outputs."""
    out = []
    evaluators = []
    try:
        from pypmml import Model
        pmodel = Model.load(path)
        evaluators.append(("pypmml 1.5.8", pmodel.predict))
    except Exception as e:  # noqa: BLE001
        out.append({"evaluator": "pypmml", "error": str(e)[:300]})
    if not skip_jpmml:
        from jpmml_evaluator import make_evaluator
        jmodel = make_evaluator(path).verify()
        evaluators.append(("jpmml-evaluator 0.16.0", jmodel.evaluateAll))
    for name, run in evaluators:
        for i in range(len(frame)):
            row = frame.iloc[[i]]
            try:
                result = run(row)
                got = read_result(result, task, classes)
            except Exception as e:  # noqa: BLE001
                got = ("error", str(e).splitlines()[0][:200])
            want = (expected_values[i], expected_labels[i] if expected_labels is not None else None)
            if got[0] == "error":
                if want[0] is not None:
                    out.append({"evaluator": name, "row": i, "error": got[1]})
                continue
            values, label = got
            if want[0] is None:
                out.append({"evaluator": name, "row": i, "expected": "invalid (returnInvalid)", "got": values})
                continue
            if not all(close(a, b) for a, b in zip(values, want[0])) or (task == "classification" and label != want[1]):
                out.append({"evaluator": name, "row": i, "expected": want[0], "expectedLabel": want[1], "got": values, "gotLabel": label})
    return out


def read_result(result, task, classes):
    r = result.iloc[0]
    if "errors" in result.columns and r["errors"] is not None and str(r["errors"]) != "nan":
        raise ValueError(str(r["errors"]))
    if task == "scorecard":
        ranks = sorted((c for c in result.columns if str(c).startswith("reason")), key=lambda c: int(str(c)[len("reason"):]))
        score = r["final"]
        return [jsonable(float(score)) if score is not None else None], [None if r[c] is None or (isinstance(r[c], float) and math.isnan(r[c])) else str(r[c]) for c in ranks]
    if task == "regression":
        cols = [c for c in result.columns if not str(c).startswith("probability")]
        v = r[cols[0]]
        return [jsonable(float(v)) if v is not None else None], None
    values = []
    for c in classes:
        key = f"probability({c})"
        if key not in result.columns:
            key = f"probability_{c}"
        v = r[key] if key in result.columns else float("nan")
        values.append(jsonable(float(v)) if v is not None else None)
    if all(v is None for v in values):
        return [None] * len(classes), None
    # The evaluator's own predicted class (the target column), not an argmax: a tree answers its node's score.
    target = [c for c in result.columns if not str(c).startswith("probability")]
    predicted = r[target[0]] if target else None
    if predicted is not None and not (isinstance(predicted, float) and math.isnan(predicted)) and str(predicted) in classes:
        return values, classes.index(str(predicted))
    best = max(range(len(classes)), key=lambda k: (values[k] if values[k] is not None else -1, -k))
    return values, best


def write(case, meta, rows, values, labels, classes, disagreements, invalid):
    folder = os.path.join(FIXTURES, case)
    os.makedirs(folder, exist_ok=True)
    doc = dict(meta)
    doc["rows"] = rows
    doc["prediction"] = values
    if classes is not None:
        doc["classes"] = classes
        doc["label"] = labels
    doc["invalid"] = invalid
    doc["disagreements"] = disagreements
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"{case}: {len(rows)} rows, {len(disagreements)} disagreement(s)")


def thresholds(pmml_text, field, limit=6):
    """Split values the exported trees compare `field` with, read back from the document."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(pmml_text)
    found = []
    for e in root.iter():
        if e.tag.endswith("SimplePredicate") and e.get("field") in (field, f"float({field})", f"double({field})") and e.get("value") is not None:
            try:
                found.append(float(e.get("value")))
            except ValueError:
                pass
    found = sorted(set(found))
    step = max(1, len(found) // limit)
    return found[::step][:limit]


# ---------------------------------------------------------------- scikit-learn cases

def sk_case(case, pipeline, x, y, categorical, task, objective, edge_rows=None, threshold_fields=()):
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y if task == "classification" else None)
    pipeline.fit(x_train, y_train)
    folder = os.path.join(FIXTURES, case)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.pmml")
    export(pipeline, path)
    with open(path) as f:
        text = f.read()
    test = x_test.iloc[:MAX_ROWS].copy()
    extra = [dict(r) for r in (edge_rows or [])]
    template = {c: None for c in x.columns}
    # Rows exactly on split thresholds, the rest of the row from the first held-out row.
    for field in threshold_fields:
        for t in thresholds(text, field):
            row = dict(test.iloc[0])
            row[field] = t
            extra.append(row)
    extra.append(dict(template))  # every input missing
    if extra:
        test = pd.concat([test, pd.DataFrame([{**template, **r} for r in extra], columns=x.columns)], ignore_index=True)
    for c in x.columns:
        if c not in categorical:
            test[c] = test[c].astype(float)
    classes = [str(c) for c in pipeline.classes_] if task == "classification" else None
    values, labels, invalid = [], [], []
    for i in range(len(test)):
        row = test.iloc[[i]]
        try:
            if task == "classification":
                p = pipeline.predict_proba(row)[0]
                values.append([float(v) for v in p])
                labels.append(classes.index(str(pipeline.predict(row)[0])))
            else:
                values.append([float(pipeline.predict(row)[0])])
                labels.append(None)
            invalid.append(False)
        except ValueError as e:
            message = str(e).splitlines()[0][:200]
            if "invalid" not in message.lower():
                # Not PMML's returnInvalid: the estimator itself takes no such row (e.g. NaN without an imputer). Left out.
                values.append("drop")
                labels.append(None)
                invalid.append(False)
                continue
            # sklearn2pmml's Domain with invalid_value_treatment="return_invalid" refuses the row, as PMML says.
            values.append(None)
            labels.append(None)
            invalid.append(message)
    keep = [i for i, v in enumerate(values) if not (isinstance(v, str) and v == "drop")]
    test = test.iloc[keep].reset_index(drop=True)
    values = [values[i] for i in keep]
    labels = [labels[i] for i in keep]
    invalid = [invalid[i] for i in keep]
    disagreements = second_evaluators(path, test, task, classes, values, labels if task == "classification" else None)
    meta = {
        "producer": f"sklearn2pmml {sklearn2pmml.__version__}",
        "reference": f"scikit-learn {sklearn.__version__} predict/predict_proba",
        "task": task,
        "objective": objective,
        "params": {k: jsonable(v) if isinstance(v, (int, float, str, type(None), np.generic)) else str(v) for k, v in pipeline.steps[-1][1].get_params().items()},
        "features": features_of(x, categorical),
    }
    write(case, meta, rows_of(test), values, labels if task == "classification" else None, classes, disagreements, invalid)


def penguin_mapper(invalid="as_is", cont=("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")):
    cont = list(cont)
    return ColumnTransformer([
        ("island", make_pipeline(CategoricalDomain(invalid_value_treatment=invalid, missing_value_treatment="as_value", missing_value_replacement="Biscoe"), OneHotEncoder(handle_unknown="ignore")), ["island"]),
        ("sex", make_pipeline(CategoricalDomain(invalid_value_treatment=invalid, missing_value_treatment="as_value", missing_value_replacement="female"), OneHotEncoder(handle_unknown="ignore")), ["sex"]),
        ("num", make_pipeline(ContinuousDomain(invalid_value_treatment="as_missing", missing_value_treatment="as_value", missing_value_replacement=0.0), SimpleImputer()), cont),
    ])


def make_sk_cases(selected):
    px, py = penguins()
    ix, iy = iris()
    wx, wy = wine()
    dx, dy = diabetes()
    dxm = blank(dx, 0.06, SEED, ["bmi", "bp", "s5"])
    wxm = blank(wx, 0.05, SEED + 1, ["alcohol", "color", "proline"])
    penguin_edges = [
        {"island": "Atlantis", "sex": "male", "bill_length_mm": 45.0, "bill_depth_mm": 17.0, "flipper_length_mm": 200.0, "body_mass_g": 4000.0},  # unseen category
        {"island": "Dream", "sex": None, "bill_length_mm": 900.0, "bill_depth_mm": 17.0, "flipper_length_mm": 200.0, "body_mass_g": 4000.0},  # out-of-range number
        {"island": "Biscoe", "sex": "female", "bill_length_mm": None, "bill_depth_mm": None, "flipper_length_mm": 180.0, "body_mass_g": None},
    ]
    cases = {
        "sk_logreg_iris": lambda: sk_case("sk_logreg_iris", PMMLPipeline([("m", LogisticRegression(max_iter=1000))]), ix, iy, set(), "classification", "LogisticRegression multinomial (softmax)"),
        "sk_logreg_penguins_binary": lambda: sk_case(
            "sk_logreg_penguins_binary",
            PMMLPipeline([("mapper", penguin_mapper("as_is")), ("m", LogisticRegression(max_iter=5000))]),
            px, py.where(py == "Adelie", "other").rename("adelie"), {"island", "sex"}, "classification", "LogisticRegression binary (logit), one-hot categorical, Domain treatments", penguin_edges),
        "sk_logreg_penguins_invalid": lambda: sk_case(
            "sk_logreg_penguins_invalid",
            PMMLPipeline([("mapper", penguin_mapper("return_invalid")), ("m", LogisticRegression(max_iter=5000))]),
            px, py, {"island", "sex"}, "classification", "LogisticRegression multinomial, categorical with invalidValueTreatment returnInvalid", penguin_edges),
        "sk_linreg_diabetes": lambda: sk_case(
            "sk_linreg_diabetes",
            PMMLPipeline([("domain", ContinuousDomain(invalid_value_treatment="as_missing", missing_value_treatment="as_value", missing_value_replacement=0.0)), ("m", LinearRegression())]),
            dx, dy, set(), "regression", "LinearRegression with ContinuousDomain (intervals, asMissing, missingValueReplacement)",
            [{**{c: 50.0 for c in dx.columns}, "age": 500.0}]),
        "sk_tree_clf_penguins": lambda: sk_case(
            "sk_tree_clf_penguins",
            PMMLPipeline([("mapper", penguin_mapper("as_is")), ("m", DecisionTreeClassifier(max_depth=5, random_state=SEED))]),
            px, py, {"island", "sex"}, "classification", "DecisionTreeClassifier over one-hot categorical", penguin_edges, ["bill_length_mm", "flipper_length_mm"]),
        # Trees are given imputed inputs: sklearn2pmml 0.133 writes missingValueStrategy="nullPrediction" for trees
        # trained on NaN, not the direction scikit-learn learned for missing values, so such rows would differ
        # between scikit-learn and any PMML evaluator (JPMML answers null, as the document says).
        "sk_tree_reg_imputed": lambda: sk_case(
            "sk_tree_reg_imputed",
            PMMLPipeline([("impute", SimpleImputer(strategy="median")), ("m", DecisionTreeRegressor(max_depth=6, random_state=SEED))]),
            dxm, dy, set(), "regression", "DecisionTreeRegressor over median-imputed inputs (missingValueReplacement)", None, ["bmi", "s5"]),
        "sk_rf_clf_wine": lambda: sk_case(
            "sk_rf_clf_wine",
            PMMLPipeline([("impute", SimpleImputer()), ("m", RandomForestClassifier(n_estimators=25, max_depth=6, random_state=SEED))]),
            wxm, wy, set(), "classification", "RandomForestClassifier (average of 25 trees) over mean-imputed inputs", None, ["proline", "color"]),
        "sk_rf_reg_diabetes": lambda: sk_case(
            "sk_rf_reg_diabetes",
            PMMLPipeline([("impute", SimpleImputer()), ("m", RandomForestRegressor(n_estimators=20, max_depth=6, random_state=SEED))]),
            dx, dy, set(), "regression", "RandomForestRegressor (average of 20 trees)", None, ["bmi"]),
        "sk_gbdt_clf_binary": lambda: sk_case(
            "sk_gbdt_clf_binary",
            PMMLPipeline([("mapper", penguin_mapper("as_is")), ("m", GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=SEED))]),
            px, py.where(py == "Gentoo", "other").rename("gentoo"), {"island", "sex"}, "classification", "GradientBoostingClassifier binary (modelChain: sum of trees, then logit)", penguin_edges, ["flipper_length_mm"]),
        "sk_gbdt_clf_multi": lambda: sk_case(
            "sk_gbdt_clf_multi",
            PMMLPipeline([("m", GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=SEED))]),
            ix, iy, set(), "classification", "GradientBoostingClassifier 3 classes (modelChain: three sums of trees, then softmax)", None, ["petal_length"]),
        "sk_gbdt_reg": lambda: sk_case(
            "sk_gbdt_reg",
            PMMLPipeline([("m", GradientBoostingRegressor(n_estimators=40, max_depth=3, learning_rate=0.1, random_state=SEED))]),
            dx, dy, set(), "regression", "GradientBoostingRegressor (sum of trees, Targets rescale)", None, ["bmi", "s5"]),
        "sk_mlp_clf_iris": lambda: sk_case(
            "sk_mlp_clf_iris",
            PMMLPipeline([("scale", StandardScaler()), ("m", MLPClassifier(hidden_layer_sizes=(8, 6), activation="tanh", max_iter=2000, random_state=SEED))]),
            ix, iy, set(), "classification", "MLPClassifier (tanh, 2 hidden layers, softmax output)"),
        "sk_mlp_clf_binary": lambda: sk_case(
            "sk_mlp_clf_binary",
            PMMLPipeline([("mapper", penguin_mapper("as_is")), ("scale", StandardScaler()), ("m", MLPClassifier(hidden_layer_sizes=(10,), activation="relu", max_iter=3000, random_state=SEED))]),
            px, py.where(py == "Chinstrap", "other").rename("chinstrap"), {"island", "sex"}, "classification", "MLPClassifier binary (relu, logistic output)", penguin_edges),
        "sk_mlp_reg": lambda: sk_case(
            "sk_mlp_reg",
            PMMLPipeline([("scale", StandardScaler()), ("m", MLPRegressor(hidden_layer_sizes=(12,), activation="logistic", max_iter=3000, random_state=SEED))]),
            dx, dy, set(), "regression", "MLPRegressor (logistic hidden layer, identity output)"),
        "sk_glm_poisson": lambda: sk_case(
            "sk_glm_poisson",
            PMMLPipeline([("m", PoissonRegressor(alpha=0.01, max_iter=1000))]),
            dx, dy, set(), "regression", "PoissonRegressor (GLM, log link)"),
        "sk_glm_gamma": lambda: sk_case(
            "sk_glm_gamma",
            PMMLPipeline([("mapper", penguin_mapper("as_is", ("bill_length_mm", "bill_depth_mm", "flipper_length_mm"))), ("m", GammaRegressor(alpha=0.01, max_iter=1000))]),
            px.drop(columns=["body_mass_g"]), px["body_mass_g"].fillna(4000.0).rename("body_mass_g"), {"island", "sex"}, "regression", "GammaRegressor (GLM, log link) with factors", penguin_edges),
        "sk_glm_tweedie": lambda: sk_case(
            "sk_glm_tweedie",
            PMMLPipeline([("m", TweedieRegressor(power=1.5, link="log", alpha=0.01, max_iter=1000))]),
            dx, dy, set(), "regression", "TweedieRegressor power 1.5 (GLM, log link)"),
    }
    for name, make in cases.items():
        if not selected or name in selected:
            make()


# ---------------------------------------------------------------- hand-written documents

def make_hand_cases(selected):
    from jpmml_evaluator import make_evaluator
    for file in sorted(os.listdir(DOCUMENTS)):
        if not file.endswith(".pmml"):
            continue
        case = file[:-5]
        if selected and case not in selected:
            continue
        path = os.path.join(DOCUMENTS, file)
        with open(os.path.join(DOCUMENTS, case + ".rows.json")) as f:
            spec = json.load(f)
        frame = pd.DataFrame(spec["rows"], columns=[f["name"] for f in spec["features"]])
        for feat in spec["features"]:
            if feat["type"] != "categorical":
                frame[feat["name"]] = frame[feat["name"]].astype(float)
        evaluator = make_evaluator(path).verify()
        task = spec["task"]
        classes = spec.get("classes")
        values, labels, invalid = [], [], []
        for i in range(len(frame)):
            try:
                got, label = read_result(evaluator.evaluateAll(frame.iloc[[i]]), task, classes)
                if task == "classification" and all(v is None for v in got):
                    label = None
                values.append(got)
                labels.append(label)
                invalid.append(False)
            except Exception as e:  # noqa: BLE001 (JPMML raises on returnInvalid, and where a value it needs is missing)
                message = str(e).splitlines()[0][:200]
                if "invalid" in message.lower():
                    values.append(None)
                    labels.append(None)
                    invalid.append(message)
                else:
                    # No answer (e.g. a missing offset variable): the converted model answers NaN / label -1.
                    values.append([None] * (len(classes) if classes else 1))
                    labels.append(None)
                    invalid.append(False)
        disagreements = second_evaluators(path, frame, task, classes, values, labels if task in ("classification", "scorecard") else None, skip_jpmml=True)
        folder = os.path.join(FIXTURES, case)
        os.makedirs(folder, exist_ok=True)
        with open(path) as src, open(os.path.join(folder, "model.pmml"), "w") as dst:
            dst.write(src.read())
        meta = {"producer": "hand-written (training/pmml/documents)", "reference": "jpmml-evaluator 0.16.0", "task": task, "objective": spec["objective"], "features": spec["features"]}
        if task == "scorecard":
            meta["reasonCodes"] = labels
        write(case, meta, rows_of(frame), values, labels if task == "classification" else None, classes, disagreements, invalid)


if __name__ == "__main__":
    selected = set(sys.argv[1:])
    if not selected or any(s.startswith("sk_") for s in selected):
        make_sk_cases({s for s in selected if s.startswith("sk_")})
    if not selected or any(s.startswith("hand_") for s in selected):
        make_hand_cases({s for s in selected if s.startswith("hand_")})
