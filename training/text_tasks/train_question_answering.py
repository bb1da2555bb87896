"""Train a small extractive question-answering model on real data: this Debian machine's package records.

Each context describes one or two real packages of bookworm's main archive (apt lists: Package, Version,
Maintainer, Section, Homepage, Depends, Installed-Size, the one-line Description) in sentences whose
wording and order vary; each question asks one field of one of them by the package's name ("Who maintains
gnome-mines?", "What is the upstream homepage of tcpdump?"), and the answer is the field's value, a span of
the context. Some questions ask what a context does not say (a homepage a package lacks): their answer is
"no answer", the [CLS] token, as SQuAD 2.0 trains it, which the pipeline's handle_impossible_answer
reads. Packages are split into training and held-out sets by a hash of their name.

The tokenizer is a BERT WordPiece one (BertNormalizer, lowercase) trained here on the training contexts
(tokenizers' WordPiece trainer, 4,000 tokens); the model is a BertForQuestionAnswering (2 layers, hidden 64)
trained from scratch with the usual recipe (transformers' examples/pytorch/question-answering/run_qa.py,
`prepare_train_features`: doc_stride windows, start/end positions, [CLS] when the answer is outside).

Writes test/fixtures/question-answering/repository/debian_qa/1/: model.onnx exported as Optimum lays a QA
model out, config.json, tokenizer files, evaluation.json (held-out exact match and F1, as the SQuAD v2
evaluation script computes them, through transformers' pipeline) and golden.json (held-out requests with
the pipeline's answers, for the golden gate and the tests). Run, after `apt-get update` and with lz4:

    lz4cat /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4 > /tmp/Packages
    /work/.venv-qa/bin/python training/text_tasks/train_question_answering.py /tmp/Packages
"""
import collections
import hashlib
import json
import os
import random
import re
import string
import sys
import tempfile

import numpy as np
import torch
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast, pipeline

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "question-answering", "repository", "debian_qa")
MAX_LENGTH = 128
STRIDE = 48
SEED = 7

FIELDS = ["maintainer", "section", "version", "homepage", "depends", "size"]
QUESTIONS = {
    "maintainer": ["Who maintains {p}?", "Who is the maintainer of {p}?", "Which team looks after {p}?"],
    "section": ["Which section is {p} in?", "What archive section does {p} belong to?"],
    "version": ["Which version of {p} is packaged?", "What is the version of {p}?"],
    "homepage": ["Where is the homepage of {p}?", "What is the upstream homepage of {p}?", "Which website does {p} come from?"],
    "depends": ["What does {p} depend on first?", "Which package does {p} need?"],
    "size": ["How many kilobytes does {p} take installed?", "What is the installed size of {p}?"],
}
SENTENCES = {
    "description": ["{p} provides {v}.", "The {p} package: {v}.", "{p} is described as {v}."],
    "maintainer": ["It is maintained by {v}.", "Its maintainer is {v}.", "{v} maintain it."],
    "section": ["It belongs to the {v} section.", "Section: {v}.", "The archive files it under {v}."],
    "version": ["The packaged version is {v}.", "Version {v} is in bookworm.", "Bookworm ships it at version {v}."],
    "homepage": ["Its homepage is {v}", "Upstream lives at {v}", "See {v} for more."],
    "depends": ["It depends on {v}.", "It needs {v} to run.", "Installing it pulls in {v}."],
    "size": ["Installed, it takes {v} kB.", "It uses {v} kB of disk."],
}


def records(path):
    for stanza in open(path, encoding="utf-8").read().split("\n\n"):
        field = lambda name: (re.search(rf"^{name}: (.*)$", stanza, re.M) or [None, None])[1]
        name, desc = field("Package"), field("Description")
        if name is None or desc is None:
            continue
        maintainer = re.sub(r"\s*<[^>]*>", "", field("Maintainer") or "").strip()
        depends = [re.split(r"[\s(:]", d.strip())[0] for d in (field("Depends") or "").split(",") if d.strip()]
        yield {
            "package": name, "description": desc.rstrip("."), "maintainer": maintainer or None, "section": field("Section"),
            "version": field("Version"), "homepage": field("Homepage"), "depends": depends[0] if depends else None, "size": field("Installed-Size"),
        }


def held_out(name):
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10 == 0


def make_example(rng, group):
    """A context about one to three packages, one question about one of them, and its answer's character span (None: no answer)."""
    parts, spans = [], {}
    for record in group:
        sentences = [("description", rng.choice(SENTENCES["description"]), record["description"])]
        for f in FIELDS:
            if record[f] is not None:
                sentences.append((f, rng.choice(SENTENCES[f]), record[f]))
        head, rest = sentences[0], sentences[1:]
        rng.shuffle(rest)
        for f, template, value in [head] + rest:
            text = template.replace("{p}", record["package"])
            prefix = " ".join(parts) + (" " if parts else "")
            at = len(prefix) + text.index("{v}")
            spans[(record["package"], f)] = (at, at + len(value))
            parts.append(text.replace("{v}", value))
    context = " ".join(parts)
    target = rng.choice(group)
    asked = rng.choice(FIELDS)
    question = rng.choice(QUESTIONS[asked]).replace("{p}", target["package"])
    span = spans.get((target["package"], asked))
    if span is not None:
        assert context[span[0]:span[1]] == target[asked]
    return {"question": question, "context": context, "answer": None if span is None else {"start": span[0], "end": span[1], "text": context[span[0]:span[1]]}}


def dataset(records_, n, rng):
    out = []
    for _ in range(n):
        group = rng.sample(records_, rng.choice([1, 1, 1, 2]))
        out.append(make_example(rng, group))
    return out


def features(tokenizer, examples):
    """run_qa.py's prepare_train_features: windows of MAX_LENGTH with STRIDE overlap, start/end token positions (0: [CLS])."""
    enc = tokenizer([e["question"] for e in examples], [e["context"] for e in examples], truncation="only_second", max_length=MAX_LENGTH, stride=STRIDE, return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        example = examples[enc["overflow_to_sample_mapping"][i]]
        sequence = enc.sequence_ids(i)
        first = sequence.index(1)
        last = len(sequence) - 1 - sequence[::-1].index(1)
        answer = example["answer"]
        if answer is None or not (offsets[first][0] <= answer["start"] and offsets[last][1] >= answer["end"]):
            starts.append(0)
            ends.append(0)
            continue
        s = first
        while s <= last and offsets[s][0] <= answer["start"]:
            s += 1
        e = last
        while e >= first and offsets[e][1] >= answer["end"]:
            e -= 1
        starts.append(s - 1)
        ends.append(e + 1)
    return {k: torch.tensor(enc[k]) for k in ["input_ids", "attention_mask", "token_type_ids"]}, torch.tensor(starts), torch.tensor(ends)


def normalize(text):
    """The SQuAD v2 evaluation script's normalize_answer."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1(prediction, truth):
    p, t = normalize(prediction).split(), normalize(truth).split()
    if not p or not t:
        return float(p == t)
    common = sum((collections.Counter(p) & collections.Counter(t)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(t)
    return 2 * precision * recall / (precision + recall)


def main(packages):
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    all_records = list(records(packages))
    train_records = [r for r in all_records if not held_out(r["package"])]
    test_records = [r for r in all_records if held_out(r["package"])]
    train = dataset(train_records, 14000, rng)
    test = dataset(test_records, 1000, rng)
    print(f"{len(all_records)} packages ({len(train_records)} for training, {len(test_records)} held out); {len(train)} training questions, {len(test)} held out")

    folder = os.path.join(OUT, "1")
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        open(corpus, "w", encoding="utf-8").write("\n".join(e["question"] + "\n" + e["context"] for e in train))
        wordpiece = BertWordPieceTokenizer(lowercase=True)
        wordpiece.train([corpus], vocab_size=4000, min_frequency=2)
        wordpiece.save_model(tmp)
        tokenizer = BertTokenizerFast(vocab_file=os.path.join(tmp, "vocab.txt"), do_lower_case=True, model_max_length=MAX_LENGTH)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=MAX_LENGTH)
    model = BertForQuestionAnswering(config)

    inputs, starts, ends = features(tokenizer, train)
    n = len(starts)
    print(f"{n} training windows")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    epochs, batch = 3, 32
    steps = epochs * ((n + batch - 1) // batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            out = model(**{k: v[idx] for k, v in inputs.items()}, start_positions=starts[idx], end_positions=ends[idx])
            optimizer.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += out.loss.item() * len(idx)
            step += 1
            if step % 50 == 0:
                print(f"  epoch {epoch + 1} step {step}/{steps} loss {out.loss.item():.3f}", flush=True)
        print(f"epoch {epoch + 1}: mean loss {total / n:.3f}", flush=True)
    model.eval()

    qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device="cpu")
    exact, f1s, has, no = [], [], [], []
    for e in test:
        got = qa(question=e["question"], context=e["context"], handle_impossible_answer=True)
        truth = "" if e["answer"] is None else e["answer"]["text"]
        exact.append(float(normalize(got["answer"]) == normalize(truth)))
        f1s.append(f1(got["answer"], truth))
        (has if e["answer"] is not None else no).append(exact[-1])
    metrics = {"exact_match": float(np.mean(exact)), "f1": float(np.mean(f1s)), "has_answer_exact_match": float(np.mean(has)), "no_answer_accuracy": float(np.mean(no)) if no else None, "held_out_questions": len(test)}
    print(json.dumps(metrics))

    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for extra in ["vocab.txt"]:
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))
    ids = torch.tensor([[2] + list(range(5, 20)) + [3]])
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(folder, "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["start_logits", "end_logits"],
        dynamic_axes={k: {0: "batch_size", 1: "sequence_length"} for k in ["input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits"]}, opset_version=14, dynamo=False,
    )
    json.dump({"task": "question-answering", "data": "Debian bookworm main amd64 package records (apt lists), held-out packages by name hash", "metrics": metrics, "evaluation": "transformers 4.57.6 pipeline, handle_impossible_answer=True; SQuAD v2 normalization"}, open(os.path.join(folder, "evaluation.json"), "w"), indent=1)
    golden = [e for e in test[:60]]
    requests, expected = [], []
    for i, e in enumerate(golden):
        parameters = {"handle_impossible_answer": True} if i % 3 == 0 else {"top_k": 2} if i % 3 == 1 else {}
        requests.append({"inputs": {"question": e["question"], "context": e["context"]}, "parameters": parameters})
        answer = qa(question=e["question"], context=e["context"], **parameters)
        expected.append([{k: (float(v) if k == "score" else v) for k, v in a.items()} for a in answer] if isinstance(answer, list) else {k: (float(v) if k == "score" else v) for k, v in answer.items()})
    json.dump({"task": "question-answering", "requests": requests, "expected": expected, "tolerance": 1e-4}, open(os.path.join(folder, "golden.json"), "w"), indent=1, ensure_ascii=False)
    json.dump({"description": "Answers questions about Debian packages (maintainer, section, version, homepage, first dependency, installed size) from a text describing them: a 2-layer BERT trained from scratch on this machine's apt lists, with its own WordPiece tokenizer. Send {\"inputs\": {\"question\", \"context\"}}."}, open(os.path.join(OUT, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
