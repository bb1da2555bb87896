"""Test models and expected answers for the question-answering task.

Builds three small random-weight extractive QA models of real architectures, BertForQuestionAnswering
(WordPiece, test/fixtures/tokenizers/bert-uncased), RobertaForQuestionAnswering and DebertaForQuestionAnswering
(byte-level BPE, test/fixtures/tokenizers/roberta), exports each with torch.onnx as Optimum lays a QA export out
(model.onnx with input_ids, attention_mask[, token_type_ids] -> start_logits, end_logits, dynamic batch and
sequence axes; config.json; the tokenizer files; tokenizer.json a link to the shared one) under
test/fixtures/question-answering/<name>/, and records:

- expected.json: what the Python transformers pipeline answers, `pipeline("question-answering")`
  (src/transformers/pipelines/question_answering.py, QuestionAnsweringPipeline: `preprocess` with
  return_overflowing_tokens / stride / truncation only_second, `postprocess`, `select_starts_ends`,
  `decode_spans`), for each case: top_k, doc_stride windows over long contexts, max_seq_len,
  max_answer_len, handle_impossible_answer, align_to_words, non-ASCII contexts. Offsets are Python's,
  in code points. The pipeline runs the PyTorch model; the script checks the ONNX export against it.
- offsets.json: the fast tokenizer's ids, offsets (code points) and word ids of texts, no special tokens.

transformers 5 removed QuestionAnsweringPipeline, so this runs on transformers 4.57.6 (its last release
line), in a venv of its own (training/requirements-fixtures.txt; torch 2.15 from /work/.venv-fx):

    /work/.venv-qa/bin/python training/text_tasks/question_answering.py
"""
import json
import os
import shutil

import numpy as np
import onnxruntime
import torch
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering, DebertaConfig, DebertaForQuestionAnswering, RobertaConfig, RobertaForQuestionAnswering, pipeline

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TOKENIZERS = os.path.join(ROOT, "test", "fixtures", "tokenizers")
OUT = os.path.join(ROOT, "test", "fixtures", "question-answering")

# Sequence length 128 keeps the position table small; the tokenizer says so (model_max_length), so the
# pipeline's default max_seq_len is min(128, 384) = 128 and its default doc_stride 64.
MAX_LENGTH = 128

MODELS = {
    # hidden sizes tiny to keep the committed files small (the word embeddings are vocabulary x hidden);
    # a wide initializer range so that random logits spread and answers do not hinge on rounding.
    "bert": (BertForQuestionAnswering, BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16, max_position_embeddings=MAX_LENGTH, initializer_range=0.6), "bert-uncased"),
    "roberta": (RobertaForQuestionAnswering, RobertaConfig(vocab_size=50262, hidden_size=4, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16, max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, initializer_range=0.6), "roberta"),
    # DeBERTa (v1: disentangled attention over relative positions, as deberta-base) with the byte-level BPE
    # RoBERTa's tokenizer is (DeBERTa v1's own is GPT-2's BPE too, with [CLS]/[SEP] for <s>/</s>).
    "deberta": (DebertaForQuestionAnswering, DebertaConfig(vocab_size=50262, hidden_size=4, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16, max_position_embeddings=MAX_LENGTH, type_vocab_size=0, pad_token_id=1, initializer_range=0.6), "roberta"),
}

SHORT = "The Debian project was founded by Ian Murdock in 1993. Its packages are built from source by volunteers around the world."
NON_ASCII = "Zoë moved to Zürich in 2019 and opened Café Olé; 東京 came next 🎉 — then São Paulo, where ÆON and naïve İstanbul fans met."
LONG = (
    "Debian is an operating system composed of free software. The project was announced on 16 August 1993 by Ian Murdock, "
    "who named it after his girlfriend Debra and himself. The first version, 0.01, was released on 15 September 1993. "
    "Debian is developed by volunteers who maintain its packages, write its documentation and run its infrastructure. "
    "Packages are organised in sections such as games, science, fonts, sound, graphics and net, and each release carries "
    "tens of thousands of them. The stable distribution is released roughly every two years; testing and unstable hold "
    "the work in progress. Releases are named after characters from the Toy Story films: Buzz, Rex, Bo, Hamm, Slink, "
    "Potato, Woody, Sarge, Etch, Lenny, Squeeze, Wheezy, Jessie, Stretch, Buster, Bullseye, Bookworm and Trixie. "
    "The Debian Free Software Guidelines define which licences the main archive accepts, and the Social Contract states "
    "the project's commitments to its users. Debian runs on many architectures, among them amd64, arm64, armhf, i386, "
    "ppc64el, riscv64 and s390x. Derivatives such as Ubuntu, Raspberry Pi OS and Kali Linux build on its packages."
)
LONG_NON_ASCII = (LONG + " ") * 1 + "Über 60 000 Pakete gibt es heute; Zürich, São Paulo und 東京 haben Mirror-Server 🎉, naïve Fragen sind willkommen."

QUESTIONS = {
    "who": "Who founded the Debian project?",
    "when": "When was the first version released?",
    "where": "Where did Zoë move in 2019?",
    "names": "Which names do Debian releases carry?",
}

# (name, model, question, context, parameters)
CASES = [
    ("short default", "bert", QUESTIONS["who"], SHORT, {}),
    ("short top_k 3", "bert", QUESTIONS["who"], SHORT, {"top_k": 3}),
    ("short max_answer_len 2", "bert", QUESTIONS["who"], SHORT, {"max_answer_len": 2, "top_k": 2}),
    ("short impossible", "bert", QUESTIONS["who"], SHORT, {"handle_impossible_answer": True, "top_k": 3}),
    ("short impossible top_k 40", "bert", QUESTIONS["who"], SHORT, {"handle_impossible_answer": True, "top_k": 40}),
    ("short not aligned to words", "bert", QUESTIONS["who"], SHORT, {"align_to_words": False, "top_k": 3}),
    ("non-ascii", "bert", QUESTIONS["where"], NON_ASCII, {"top_k": 5}),
    ("long default stride", "bert", QUESTIONS["when"], LONG, {"top_k": 3}),
    ("long stride 16 seq 48", "bert", QUESTIONS["names"], LONG, {"doc_stride": 16, "max_seq_len": 48, "top_k": 4}),
    ("long stride 30 seq 64 impossible", "bert", QUESTIONS["when"], LONG_NON_ASCII, {"doc_stride": 30, "max_seq_len": 64, "handle_impossible_answer": True, "top_k": 3}),
    ("long stride 0", "bert", QUESTIONS["who"], LONG, {"doc_stride": 0, "max_seq_len": 40}),
    ("max_question_len 4", "bert", "Who exactly founded the Debian project, and when?", LONG, {"max_question_len": 4, "doc_stride": 20, "max_seq_len": 48, "top_k": 2}),
    ("deberta short top_k 3", "deberta", QUESTIONS["who"], SHORT, {"top_k": 3}),
    ("deberta non-ascii", "deberta", QUESTIONS["where"], NON_ASCII, {"top_k": 2}),
    ("deberta long stride 20 seq 50 impossible", "deberta", QUESTIONS["names"], LONG_NON_ASCII, {"doc_stride": 20, "max_seq_len": 50, "handle_impossible_answer": True, "top_k": 3}),
    ("roberta short default", "roberta", QUESTIONS["who"], SHORT, {}),
    ("roberta short top_k 4", "roberta", QUESTIONS["who"], SHORT, {"top_k": 4}),
    ("roberta non-ascii", "roberta", QUESTIONS["where"], NON_ASCII, {"top_k": 5}),
    ("roberta non-ascii not aligned", "roberta", QUESTIONS["where"], NON_ASCII, {"top_k": 5, "align_to_words": False}),
    ("roberta long stride 20 seq 50", "roberta", QUESTIONS["names"], LONG_NON_ASCII, {"doc_stride": 20, "max_seq_len": 50, "top_k": 3}),
    ("roberta long impossible", "roberta", QUESTIONS["when"], LONG, {"handle_impossible_answer": True, "top_k": 2}),
    ("roberta short impossible top_k 30", "roberta", QUESTIONS["when"], SHORT, {"handle_impossible_answer": True, "top_k": 30}),
]

OFFSET_TEXTS = [SHORT, NON_ASCII, LONG_NON_ASCII, "  Leading and trailing   spaces,\ttabs\nand new lines  ", "don't stop-me now!!! e-mail: a.b@c.de (1,000.5%)", "Ünïcödé ﬁ ligature, Ⅻ numerals, Ǆ digraph, 𝔘𝔫𝔦 math, 👩‍👩‍👧 family"]


def build(name):
    model_class, config, tokenizer_name = MODELS[name]
    torch.manual_seed(1234)
    model = model_class(config).eval()
    folder = os.path.join(OUT, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    model.config.save_pretrained(folder)
    source = os.path.join(TOKENIZERS, tokenizer_name)
    os.symlink(os.path.join("..", "..", "tokenizers", tokenizer_name, "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    shutil.copy(os.path.join(source, "special_tokens_map.json"), folder)
    tokenizer_config = json.load(open(os.path.join(source, "tokenizer_config.json"), encoding="utf-8"))
    tokenizer_config["model_max_length"] = MAX_LENGTH
    json.dump(tokenizer_config, open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8"), indent=2, ensure_ascii=False)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if name == "bert" else [])
    ids = torch.tensor([[101 if name == "bert" else 0] + [1000 + i for i in range(10)]], dtype=torch.long)
    feeds = (ids, torch.ones_like(ids)) + ((torch.zeros_like(ids),) if name == "bert" else ())
    axes = {"batch_size": 0, "sequence_length": 1}
    torch.onnx.export(
        model, feeds, os.path.join(folder, "model.onnx"), input_names=names, output_names=["start_logits", "end_logits"],
        dynamic_axes={k: {v: k2 for k2, v in axes.items()} for k in names + ["start_logits", "end_logits"]}, opset_version=14, dynamo=False,
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    check_export(model, tokenizer, folder, names)
    return model, tokenizer


def check_export(model, tokenizer, folder, names):
    """The ONNX model answers as the PyTorch one, on a padded batch of two."""
    encoded = tokenizer(["Who?", "Where is it, then?"], [SHORT, NON_ASCII], padding=True, return_tensors="np", return_token_type_ids=True)
    session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"))
    onnx_start, onnx_end = session.run(None, {k: encoded[k].astype(np.int64) for k in names})
    with torch.no_grad():
        out = model(**{k: torch.tensor(encoded[k]) for k in names})
    for a, b in ((onnx_start, out.start_logits), (onnx_end, out.end_logits)):
        mask = encoded["attention_mask"] == 1
        assert np.abs(a[mask] - b.numpy()[mask]).max() < 1e-4, np.abs(a[mask] - b.numpy()[mask]).max()


def to_jsonable(answer):
    if isinstance(answer, list):
        return [to_jsonable(a) for a in answer]
    return {"score": float(answer["score"]), "start": int(answer["start"]), "end": int(answer["end"]), "answer": answer["answer"]}


def main():
    os.makedirs(OUT, exist_ok=True)
    built = {name: build(name) for name in MODELS}
    cases = []
    for case, name, question, context, parameters in CASES:
        model, tokenizer = built[name]
        qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device="cpu")
        asked = question
        if "max_question_len" in parameters:
            # The fast pipeline ignores max_question_len (only squad_convert_examples_to_features, the slow
            # tokenizers' path, cuts the question to it); ModelShip cuts the question's tokens. The same
            # question, cut at the end of its max_question_len-th token, is what the model then sees.
            cut = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"][parameters["max_question_len"] - 1][1]
            asked = question[:cut]
            assert tokenizer(asked, add_special_tokens=False)["input_ids"] == tokenizer(question, add_special_tokens=False)["input_ids"][: parameters["max_question_len"]]
        answer = qa(question=asked, context=context, **{k: v for k, v in parameters.items() if k != "max_question_len"})
        encoded = tokenizer(asked, context, truncation="only_second", max_length=parameters.get("max_seq_len", MAX_LENGTH), stride=parameters.get("doc_stride", min(parameters.get("max_seq_len", MAX_LENGTH) // 2, 128)), return_overflowing_tokens=True)
        cases.append({"name": case, "model": name, "question": question, "context": context, "parameters": parameters, "windows": len(encoded["input_ids"]), "expected": to_jsonable(answer)})
        print(f"{case}: {len(encoded['input_ids'])} window(s) -> {json.dumps(to_jsonable(answer), ensure_ascii=False)[:160]}")
    json.dump({"transformers": __import__("transformers").__version__, "tokenizers": __import__("tokenizers").__version__, "cases": cases}, open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    offsets = {}
    for name in ["bert", "roberta"]:
        tokenizer = built[name][1]
        rows = []
        for text in OFFSET_TEXTS:
            encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            rows.append({"text": text, "ids": encoding["input_ids"], "offsets": [list(o) for o in encoding["offset_mapping"]], "words": encoding.word_ids()})
        offsets[name] = rows
    json.dump(offsets, open(os.path.join(OUT, "offsets.json"), "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
