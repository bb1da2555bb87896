#!/usr/bin/python3
"""Train ModelShip's sample models on scikit-learn's bundled data sets and export them to ONNX.

Run with Debian's Python (apt-get install python3-sklearn python3-onnx):

    /usr/bin/python3 training/train_samples.py

Writes, for each sample, models/<name>/1/model.onnx, golden.json (the held-out rows with the outputs
scikit-learn computed for them and the true targets), evaluation.json (metrics on that split) and
baseline.json (per-feature training statistics, for drift detection), plus models/<name>/config.json.
Nothing at build, serve or test time runs this script: its outputs are committed.

skl2onnx is not packaged by Debian, so the graphs are written with onnx.helper from the fitted
estimators' own parameters; the tests check every exported model against scikit-learn's answers.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn import datasets, metrics
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
SEED = 42
TEST_SIZE = 0.25
OPSET = [helper.make_opsetid("", 17)]
ML_OPSET = OPSET + [helper.make_opsetid("ai.onnx.ml", 3)]


def f32(a):
    return np.asarray(a, dtype=np.float32)


def write_json(path, value):
    with open(path, "w") as fh:
        json.dump(value, fh, indent=1)
        fh.write("\n")


def round_list(a, digits=7):
    return [float(round(float(x), digits)) for x in np.asarray(a).ravel()]


def f32_list(a):
    """float32 values written with the fewest digits that read back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-")) for v in np.asarray(a, dtype=np.float32).ravel()]


def save_model(graph, name, opsets, doc):
    model = helper.make_model(graph, opset_imports=opsets, producer_name="modelship-training", doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory = os.path.join(ROOT, name, "1")
    os.makedirs(directory, exist_ok=True)
    onnx.save(model, os.path.join(directory, "model.onnx"))
    return directory


def tensor(name, dtype, dims):
    return helper.make_tensor_value_info(name, dtype, dims)


def baseline(x_train, feature_names):
    """Per-feature statistics of the training data: what the drift job compares captured inputs with."""
    features = []
    for i, fname in enumerate(feature_names):
        col = np.asarray(x_train[:, i], dtype=np.float64)
        edges = np.unique(np.quantile(col, np.linspace(0, 1, 11)))
        counts, _ = np.histogram(col, bins=edges)
        features.append({
            "name": fname,
            "index": i,
            "count": int(col.size),
            "mean": float(col.mean()),
            "std": float(col.std()),
            "min": float(col.min()),
            "max": float(col.max()),
            "binEdges": round_list(edges, 9),
            "binProportions": round_list(counts / counts.sum(), 9),
            "quantiles": round_list(np.quantile(col, np.linspace(0, 1, 101)), 9),
        })
    return {"features": features}


def classification_metrics(y_true, proba, labels):
    pred = np.argmax(proba, axis=1)
    average = "binary" if len(labels) == 2 else "macro"
    return {
        "accuracy": float(metrics.accuracy_score(y_true, pred)),
        "precision": float(metrics.precision_score(y_true, pred, average=average)),
        "recall": float(metrics.recall_score(y_true, pred, average=average)),
        "f1": float(metrics.f1_score(y_true, pred, average=average)),
        "logLoss": float(metrics.log_loss(y_true, proba, labels=list(range(len(labels))))),
        "average": average,
    }


def write_artifacts(directory, name, inputs, outputs, targets, task, metric_values, rows, base):
    write_json(os.path.join(directory, "golden.json"), {
        "description": f"Held-out split of {name} (test_size={TEST_SIZE}, random_state={SEED}) with scikit-learn's outputs.",
        "inputs": inputs,
        "outputs": outputs,
        "targets": targets,
        "tolerance": {"absolute": 1e-4, "relative": 1e-3},
    })
    write_json(os.path.join(directory, "evaluation.json"), {
        "task": task,
        "split": {"testSize": TEST_SIZE, "randomState": SEED, "rows": rows},
        "metrics": metric_values,
    })
    write_json(os.path.join(directory, "baseline.json"), base)


def diabetes_regressor():
    data = datasets.load_diabetes()
    x_tr, x_te, y_tr, y_te = train_test_split(f32(data.data), data.target, test_size=TEST_SIZE, random_state=SEED)
    model = Ridge(alpha=0.1).fit(x_tr, y_tr)
    n_features = x_tr.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "coef"], ["mm"]),
            helper.make_node("Add", ["mm", "intercept"], ["prediction"]),
        ],
        "diabetes_regressor",
        [tensor("features", TensorProto.FLOAT, ["batch", n_features])],
        [tensor("prediction", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(f32(model.coef_).reshape(n_features, 1), "coef"),
         numpy_helper.from_array(f32([model.intercept_]), "intercept")],
    )
    directory = save_model(graph, "diabetes_regressor", OPSET, "Ridge regression of disease progression one year after baseline (sklearn diabetes).")
    pred = model.predict(x_te)
    evaluation = {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_te, pred))),
        "mae": float(metrics.mean_absolute_error(y_te, pred)),
        "r2": float(metrics.r2_score(y_te, pred)),
    }
    write_artifacts(directory, "diabetes", [
        {"name": "features", "datatype": "FP32", "shape": list(x_te.shape), "data": f32_list(x_te)},
    ], [
        {"name": "prediction", "datatype": "FP32", "shape": [len(pred), 1], "data": round_list(pred, 6)},
    ], round_list(y_te), "regression", evaluation, len(y_te), baseline(x_tr, data.feature_names))
    write_json(os.path.join(ROOT, "diabetes_regressor", "config.json"), {
        "description": "Ridge regression: disease progression one year after baseline from 10 standardised measurements (sklearn diabetes data set).",
        "task": "regression",
        "featureNames": list(data.feature_names),
        "maxBatchSize": 1024,
        "latencyObjectiveMs": 100,
    })


def breast_cancer_classifier():
    data = datasets.load_breast_cancer()
    x_tr, x_te, y_tr, y_te = train_test_split(f32(data.data), data.target, test_size=TEST_SIZE, random_state=SEED, stratify=data.target)
    scaler = StandardScaler().fit(x_tr)
    clf = LogisticRegression(max_iter=5000).fit(scaler.transform(x_tr), y_tr)
    n_features = x_tr.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["features", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "scale"], ["scaled"]),
            helper.make_node("MatMul", ["scaled", "coef"], ["mm"]),
            helper.make_node("Add", ["mm", "intercept"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["p1"]),
            helper.make_node("Sub", ["one", "p1"], ["p0"]),
            helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
        ],
        "breast_cancer_classifier",
        [tensor("features", TensorProto.FLOAT, ["batch", n_features])],
        [tensor("label", TensorProto.INT64, ["batch"]), tensor("probabilities", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(f32(scaler.mean_), "mean"),
         numpy_helper.from_array(f32(scaler.scale_), "scale"),
         numpy_helper.from_array(f32(clf.coef_).reshape(n_features, 1), "coef"),
         numpy_helper.from_array(f32(clf.intercept_), "intercept"),
         numpy_helper.from_array(f32([1.0]), "one")],
    )
    directory = save_model(graph, "breast_cancer_classifier", OPSET, "Standardised logistic regression: malignant (0) or benign (1) (sklearn breast cancer).")
    proba = clf.predict_proba(scaler.transform(x_te))
    labels = list(data.target_names)
    write_artifacts(directory, "breast_cancer", [
        {"name": "features", "datatype": "FP32", "shape": list(x_te.shape), "data": f32_list(x_te)},
    ], [
        {"name": "label", "datatype": "INT64", "shape": [len(proba)], "data": [int(v) for v in clf.predict(scaler.transform(x_te))]},
        {"name": "probabilities", "datatype": "FP32", "shape": list(proba.shape), "data": round_list(proba)},
    ], [int(v) for v in y_te], "binary-classification", classification_metrics(y_te, proba, labels), len(y_te), baseline(x_tr, data.feature_names))
    write_json(os.path.join(ROOT, "breast_cancer_classifier", "config.json"), {
        "description": "Logistic regression on 30 cell-nucleus measurements: malignant or benign (sklearn breast cancer data set).",
        "task": "classification",
        "labels": labels,
        "featureNames": list(data.feature_names),
        "maxBatchSize": 1024,
        "latencyObjectiveMs": 100,
    })


def float32_floor(threshold):
    """The largest float32 <= a float64 threshold. scikit-learn tests float32(x) <= float64 threshold;
    onnxruntime compares in float32, so the threshold must round down for both to take the same branch."""
    t = np.float32(threshold)
    if float(t) > float(threshold):
        t = np.nextafter(t, np.float32(-np.inf))
    return float(t)


def iris_forest():
    data = datasets.load_iris()
    x_tr, x_te, y_tr, y_te = train_test_split(f32(data.data), data.target, test_size=TEST_SIZE, random_state=SEED, stratify=data.target)
    forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=SEED).fit(x_tr, y_tr)
    n_classes = len(data.target_names)
    attrs = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                             "nodes_truenodeids", "nodes_falsenodeids", "class_treeids", "class_nodeids", "class_ids", "class_weights"]}
    for tree_id, est in enumerate(forest.estimators_):
        t = est.tree_
        for node in range(t.node_count):
            leaf = t.children_left[node] == -1
            attrs["nodes_treeids"].append(tree_id)
            attrs["nodes_nodeids"].append(node)
            attrs["nodes_featureids"].append(0 if leaf else int(t.feature[node]))
            attrs["nodes_values"].append(0.0 if leaf else float32_floor(t.threshold[node]))
            attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            attrs["nodes_truenodeids"].append(0 if leaf else int(t.children_left[node]))
            attrs["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[node]))
            if leaf:
                # A forest's probability is the mean over trees of each leaf's class fractions.
                fractions = t.value[node][0] / t.value[node][0].sum()
                for c in range(n_classes):
                    attrs["class_treeids"].append(tree_id)
                    attrs["class_nodeids"].append(node)
                    attrs["class_ids"].append(c)
                    attrs["class_weights"].append(float(fractions[c]) / len(forest.estimators_))
    node = helper.make_node("TreeEnsembleClassifier", ["features"], ["label", "probabilities"], domain="ai.onnx.ml",
                            classlabels_int64s=list(range(n_classes)), post_transform="NONE", **attrs)
    graph = helper.make_graph(
        [node], "iris_forest",
        [tensor("features", TensorProto.FLOAT, ["batch", 4])],
        [tensor("label", TensorProto.INT64, ["batch"]), tensor("probabilities", TensorProto.FLOAT, ["batch", n_classes])],
    )
    directory = save_model(graph, "iris_forest", ML_OPSET, "Random forest (20 trees, ai.onnx.ml TreeEnsembleClassifier) on iris flowers.")
    proba = forest.predict_proba(x_te)
    labels = list(data.target_names)
    write_artifacts(directory, "iris", [
        {"name": "features", "datatype": "FP32", "shape": list(x_te.shape), "data": f32_list(x_te)},
    ], [
        {"name": "label", "datatype": "INT64", "shape": [len(proba)], "data": [int(v) for v in forest.predict(x_te)]},
        {"name": "probabilities", "datatype": "FP32", "shape": list(proba.shape), "data": round_list(proba)},
    ], [int(v) for v in y_te], "multiclass-classification", classification_metrics(y_te, proba, labels), len(y_te), baseline(x_tr, data.feature_names))
    write_json(os.path.join(ROOT, "iris_forest", "config.json"), {
        "description": "Random forest on sepal and petal length and width (cm): setosa, versicolor or virginica (sklearn iris data set).",
        "task": "classification",
        "labels": labels,
        "featureNames": list(data.feature_names),
        "maxBatchSize": 1024,
        "latencyObjectiveMs": 100,
    })


def digits_mlp():
    data = datasets.load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(f32(data.data), data.target, test_size=TEST_SIZE, random_state=SEED, stratify=data.target)
    mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=600, random_state=SEED).fit(x_tr / 16.0, y_tr)
    w1, w2 = mlp.coefs_
    b1, b2 = mlp.intercepts_
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"], axis=1),
            helper.make_node("Div", ["flat", "sixteen"], ["scaled"]),
            helper.make_node("Gemm", ["scaled", "w1", "b1"], ["h1"]),
            helper.make_node("Relu", ["h1"], ["a1"]),
            helper.make_node("Gemm", ["a1", "w2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
        ],
        "digits_mlp",
        [tensor("image", TensorProto.FLOAT, ["batch", 8, 8])],
        [tensor("label", TensorProto.INT64, ["batch"]), tensor("probabilities", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(f32([16.0]), "sixteen"),
         numpy_helper.from_array(f32(w1), "w1"), numpy_helper.from_array(f32(b1), "b1"),
         numpy_helper.from_array(f32(w2), "w2"), numpy_helper.from_array(f32(b2), "b2")],
    )
    directory = save_model(graph, "digits_mlp", OPSET, "Multi-layer perceptron (64-32-10) on 8x8 grey-level digit images, pixel values 0..16 (sklearn digits).")
    proba = mlp.predict_proba(x_te / 16.0)
    labels = [str(d) for d in data.target_names]
    write_artifacts(directory, "digits", [
        {"name": "image", "datatype": "FP32", "shape": [len(x_te), 8, 8], "data": f32_list(x_te)},
    ], [
        {"name": "label", "datatype": "INT64", "shape": [len(proba)], "data": [int(v) for v in mlp.predict(x_te / 16.0)]},
        {"name": "probabilities", "datatype": "FP32", "shape": list(proba.shape), "data": round_list(proba)},
    ], [int(v) for v in y_te], "multiclass-classification", classification_metrics(y_te, proba, labels), len(y_te),
        baseline(x_tr, [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]))
    write_json(os.path.join(ROOT, "digits_mlp", "config.json"), {
        "description": "Small neural network (one hidden layer of 32) reading an 8x8 image of a handwritten digit, pixels 0..16 (sklearn digits data set).",
        "task": "classification",
        "labels": labels,
        "maxBatchSize": 512,
        "latencyObjectiveMs": 100,
    })


if __name__ == "__main__":
    for train in (diabetes_regressor, breast_cancer_classifier, iris_forest, digits_mlp):
        train()
        print("trained", train.__name__)
