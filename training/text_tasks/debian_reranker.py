"""A trained reranker on real text: a small BERT cross-encoder that scores (section name, package
description) pairs from this Debian machine's apt lists, so that ranking descriptions against a
section name (or section names against a description) puts the package's own section first.

    lz4cat /var/lib/apt/lists/*_bookworm_main_binary-amd64_Packages.lz4 > /tmp/packages
    node scripts/samples/debian-texts.ts /tmp/packages /tmp/debian.jsonl
    /work/.venv-fx/bin/python training/text_tasks/debian_reranker.py /tmp/debian.jsonl

The data is scripts/samples/debian-texts.ts's: 600 one-line descriptions from each of six sections
(games, science, fonts, sound, graphics, net), split 80/20 by a hash of the package name. Every
description makes six pairs, one per section name; a BertForSequenceClassification with one label (hidden size 16, two layers, bert-base-uncased's real WordPiece tokenizer, built by
the text tasks' shared test/fixtures/tokenizers/bert-uncased/) learns from scratch to score its own section's pair above the five others (a softmax cross-entropy
over each description's six pair scores, the listwise loss of rerankers),
and is saved as sentence-transformers 6.2.0 saves a CrossEncoder (its Sigmoid activation in
config_sentence_transformers.json), then exported with torch.onnx as Optimum lays it out.

Writes test/fixtures/text-pairs/debian-reranker/ (model.onnx, config.json,
config_sentence_transformers.json, tokenizer_config.json; tokenizer.json is the shared
test/fixtures/tokenizers/bert-uncased/tokenizer.json) and evaluation.json there: held-out ranking metrics, and
sentence-transformers' `CrossEncoder.predict` scores on held-out pairs, the reference the tests
compare ModelShip's answers with.
"""
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from sentence_transformers import CrossEncoder
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_tokenizers  # noqa: E402
from text_pairs import BERT_TOKENIZER, write_json  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "text-pairs", "debian-reranker")
SECTIONS = ["games", "science", "fonts", "sound", "graphics", "net"]
MAX_LENGTH = 64
EPOCHS = 30
SEED = 26


def tokenizer():
    specials = {k: v for k, v in real_tokenizers.BERT_TOKENIZER_CONFIG.items() if k.endswith("_token")}
    return PreTrainedTokenizerFast(tokenizer_file=BERT_TOKENIZER, **specials, model_max_length=MAX_LENGTH, model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def pairs_of(rows):
    return [(section, row["text"], float(section == row["label"])) for row in rows for section in SECTIONS]


def ranking_metrics(scores, rows):
    """scores[i][j]: description i against section j. Sections per description (top-1, MRR) and descriptions per section (MAP)."""
    gold = np.array([SECTIONS.index(r["label"]) for r in rows])
    order = np.argsort(-scores, axis=1)
    ranks = np.array([list(order[i]).index(gold[i]) + 1 for i in range(len(rows))])
    aps = []
    for j in range(len(SECTIONS)):
        ranked = np.argsort(-scores[:, j])
        hits = (gold[ranked] == j).astype(float)
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(float((precision * hits).sum() / max(hits.sum(), 1)))
    return {"section_top1_accuracy": float((ranks == 1).mean()), "section_mrr": float((1.0 / ranks).mean()), "description_map": float(np.mean(aps)), "chance_top1": 1 / len(SECTIONS)}


def main(path):
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # a shared machine
    rows = [json.loads(line) for line in open(path)]
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    tok = tokenizer()
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=MAX_LENGTH, num_labels=1)
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    examples = list(train)
    for epoch in range(EPOCHS):
        model.train()
        random.shuffle(examples)
        total = 0.0
        for start in range(0, len(examples), 32):
            batch = examples[start:start + 32]
            inputs = tok([s for _ in batch for s in SECTIONS], [r["text"] for r in batch for _ in SECTIONS], padding=True, truncation=True, return_tensors="pt")
            logits = model(**inputs).logits.view(len(batch), len(SECTIONS))
            loss = loss_fn(logits, torch.tensor([SECTIONS.index(r["label"]) for r in batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(batch)
        print(f"epoch {epoch + 1}: loss {total / len(examples):.4f}", flush=True)
    model.eval()

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        cross = CrossEncoder(tmp, device="cpu")  # num_labels 1: sentence-transformers' default Sigmoid
        cross.save_pretrained(tmp)
        shutil.copy(os.path.join(tmp, "config_sentence_transformers.json"), OUT)
    write_json(os.path.join(OUT, "tokenizer_config.json"), {**real_tokenizers.BERT_TOKENIZER_CONFIG, "model_max_length": MAX_LENGTH})
    hf = model.config.to_dict()
    for key in ["transformers_version", "dtype", "torch_dtype"]:
        hf.pop(key, None)
    hf["architectures"] = [type(model).__name__]
    write_json(os.path.join(OUT, "config.json"), hf)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tok(["games", "net"], ["a game", "a network tool with a longer description"], padding=True, return_tensors="pt")
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    axes["logits"] = {0: "batch_size"}
    onnx_path = os.path.join(OUT, "model.onnx")
    torch.onnx.export(model, (), onnx_path, kwargs={n: sample[n] for n in names}, input_names=names, output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)

    # Held-out metrics, from sentence-transformers' CrossEncoder.predict (sigmoid scores).
    scores = np.array(cross.predict([(s, r["text"]) for r in test for s in SECTIONS], batch_size=256)).reshape(len(test), len(SECTIONS))
    metrics = ranking_metrics(scores, test)
    print(json.dumps(metrics))
    # The ONNX export answers the same (logits, sigmoid) on held-out pairs.
    session = ort.InferenceSession(onnx_path)
    probe = [r for r in test if int(hashlib.sha256(r["package"].encode()).hexdigest()[:4], 16) % 8 == 0][:12]
    batch = tok([s for r in probe for s in SECTIONS], [r["text"] for r in probe for _ in SECTIONS], padding=True, truncation=True, return_tensors="np")
    logits = session.run(["logits"], {n: batch[n].astype(np.int64) for n in names})[0][:, 0]
    reference = cross.predict([(s, r["text"]) for r in probe for s in SECTIONS])
    gap = float(np.abs(1 / (1 + np.exp(-logits)) - reference).max())
    assert gap < 1e-5, f"onnx and CrossEncoder.predict differ by {gap}"
    write_json(os.path.join(OUT, "evaluation.json"), {
        "task": "text-classification (cross-encoder reranker)",
        "data": f"Debian bookworm main package descriptions, sections {', '.join(SECTIONS)}: {len(train)} training and {len(test)} held-out descriptions, each paired with all six section names",
        "metrics": metrics,
        "reference": "sentence-transformers CrossEncoder.predict (Sigmoid) on held-out pairs",
        "pairs": [{"text": s, "text_pair": r["text"], "package": r["package"], "label": r["label"], "score": float(score)} for (r, s), score in zip([(r, s) for r in probe for s in SECTIONS], reference)],
    })
    print(f"{OUT}: {os.path.getsize(onnx_path)} bytes, onnx vs CrossEncoder max |diff| {gap:.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
