"""The classic tutorial deployment, as a baseline: Flask + scikit-learn LogisticRegression on the
breast cancer data, POST /predict {"features": [...]} -> {"prediction": [...]}. Run under gunicorn
with 2 workers by `npm run bench` when Debian's python3-flask, python3-sklearn and gunicorn exist."""
from flask import Flask, jsonify, request
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

data = load_breast_cancer()
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(data.data, data.target)
app = Flask(__name__)


@app.post("/predict")
def predict():
    features = request.get_json()["features"]
    return jsonify({"prediction": model.predict_proba([features])[0].tolist()})
