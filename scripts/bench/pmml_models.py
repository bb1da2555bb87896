"""Bench models for `npm run bench` part (p): a 100-tree random forest and a GLM, trained on scikit-learn's
bundled wine and diabetes tables, each exported twice: to PMML by sklearn2pmml (what ModelShip converts)
and to ONNX by skl2onnx (the same model trained straight into ONNX, the baseline). Writes into the folder
given: rf/model.pmml, rf/model.onnx, glm/model.pmml, glm/model.onnx, rows.json (first rows of each).
Needs the .venv-pmml of training/pmml/make_fixtures.py plus skl2onnx==1.20.0 and onnx==1.23.2, and Java.
"""
import json
import os
import sys
import warnings

import numpy as np
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import PoissonRegressor
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline
from skl2onnx import to_onnx

warnings.filterwarnings("ignore")
out = sys.argv[1]
for sub in ("rf", "glm"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
import pandas as pd

w = datasets.load_wine()
wx = pd.DataFrame(w.data, columns=[f"w{i}" for i in range(w.data.shape[1])])
rf = PMMLPipeline([("m", RandomForestClassifier(n_estimators=100, max_depth=8, random_state=3))]).fit(wx, w.target)
sklearn2pmml(rf, os.path.join(out, "rf", "model.pmml"))
with open(os.path.join(out, "rf", "model.onnx"), "wb") as f:
    f.write(to_onnx(rf.steps[-1][1], wx.values.astype(np.float32), target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False}).SerializeToString())
d = datasets.load_diabetes(scaled=False)
dx = pd.DataFrame(d.data, columns=[f"d{i}" for i in range(d.data.shape[1])])
glm = PMMLPipeline([("m", PoissonRegressor(alpha=0.01, max_iter=1000))]).fit(dx, d.target)
sklearn2pmml(glm, os.path.join(out, "glm", "model.pmml"))
with open(os.path.join(out, "glm", "model.onnx"), "wb") as f:
    f.write(to_onnx(glm.steps[-1][1], dx.values.astype(np.float64), target_opset=17).SerializeToString())
with open(os.path.join(out, "rows.json"), "w") as f:
    json.dump({"rf": wx.values[:20].tolist(), "glm": dx.values[:20].tolist(), "rfProba": rf.predict_proba(wx.iloc[:3]).tolist(), "glmPredict": glm.predict(dx.iloc[:3]).tolist()}, f)
print(json.dumps({"ok": True}))
