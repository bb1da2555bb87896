"""Test model and expected answers for the sentence-similarity task.

Builds a small random-weight BertModel (WordPiece, test/fixtures/tokenizers/bert-uncased) as a
sentence-transformers model (Transformer -> mean Pooling -> Normalize), saves it as
sentence-transformers lays a model out (config.json, modules.json, 1_Pooling/config.json, the
tokenizer files; tokenizer.json a link to the shared one), exports the BertModel with torch.onnx as
Optimum lays a feature-extraction export out (model.onnx with input_ids, attention_mask,
token_type_ids -> last_hidden_state, dynamic batch and sequence axes) under
test/fixtures/sentence-similarity/bert/, and records in expected.json, for each case, what
sentence-transformers answers: `SentenceTransformer.encode` on the source sentence and the sentences,
then `util.cos_sim` (sentence_transformers/util/similarity.py), as Hugging Face's sentence-similarity
inference API computes it (api-inference-community, docker_images/sentence_transformers/app/pipelines/
sentence_similarity.py: `util.pytorch_cos_sim(embeddings1, embeddings2).tolist()[0]`).

Runs in the shared venv (training/requirements-fixtures.txt):

    /work/.venv-fx/bin/python training/text_tasks/sentence_similarity.py
"""
import json
import os
import shutil
import tempfile

import numpy as np
import onnxruntime
import torch
from sentence_transformers import SentenceTransformer, models, util
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TOKENIZER = os.path.join(ROOT, "test", "fixtures", "tokenizers", "bert-uncased")
OUT = os.path.join(ROOT, "test", "fixtures", "sentence-similarity")
MAX_LENGTH = 128

CASES = [
    {"source_sentence": "a free multiplayer strategy game", "sentences": ["a real-time strategy game of ancient warfare", "TrueType font family", "network packet analyzer", "a free multiplayer strategy game"]},
    {"source_sentence": "Zoë moved to Zürich; 東京 came next 🎉", "sentences": ["Café Olé in São Paulo", "naïve İstanbul fans", "Zoë moved to Zürich; 東京 came next 🎉"]},
    {"source_sentence": "one sentence", "sentences": ["only one other"]},
    # Longer than the model's 128 tokens: sentence-transformers truncates at max_seq_length, as the server does.
    {"source_sentence": " ".join(["debian packages are built from source by volunteers"] * 30), "sentences": ["volunteers build packages", " ".join(["games science fonts sound graphics net"] * 40)]},
]


class TokenEmbeddings(torch.nn.Module):
    """BertModel by keyword (transformers 5's forward takes more positional arguments than the export passes)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def build():
    torch.manual_seed(4321)
    config = BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16, max_position_embeddings=MAX_LENGTH, initializer_range=0.6)
    bert = BertModel(config, add_pooling_layer=False).eval()
    folder = os.path.join(OUT, "bert")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    with tempfile.TemporaryDirectory() as hf:
        bert.save_pretrained(hf)
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(TOKENIZER, "tokenizer.json"), **{k: v for k, v in json.load(open(os.path.join(TOKENIZER, "special_tokens_map.json"))).items()})
        tokenizer.model_max_length = MAX_LENGTH
        tokenizer.save_pretrained(hf)
        transformer = models.Transformer(hf, max_seq_length=MAX_LENGTH)
        pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
        model.save(folder)
    # What the server reads: the export and the sentence-transformers files; the weights live in model.onnx only.
    for name in os.listdir(folder):
        if name.endswith((".safetensors", ".bin")) or name in ("README.md", "config_sentence_transformers.json", "vocab.txt", "sentence_bert_config.json"):
            os.remove(os.path.join(folder, name))
    shutil.rmtree(os.path.join(folder, "2_Normalize"), ignore_errors=True)
    os.remove(os.path.join(folder, "tokenizer.json"))
    os.symlink(os.path.join("..", "..", "tokenizers", "bert-uncased", "tokenizer.json"), os.path.join(folder, "tokenizer.json"))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.tensor([[101] + [1000 + i for i in range(10)] + [102]], dtype=torch.long)
    axes = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(
        TokenEmbeddings(bert), (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(folder, "model.onnx"), input_names=names, output_names=["last_hidden_state"],
        dynamic_axes={k: axes for k in names + ["last_hidden_state"]}, opset_version=14, dynamo=False,
    )
    check_export(model, folder, names)
    return model


def check_export(model, folder, names):
    """The ONNX model gives the PyTorch model's token embeddings on a padded batch."""
    tokenizer = model.tokenizer
    encoded = tokenizer(["one sentence", CASES[1]["source_sentence"]], padding=True, return_tensors="np", return_token_type_ids=True)
    session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"))
    (hidden,) = session.run(None, {k: encoded[k].astype(np.int64) for k in names})
    with torch.no_grad():
        expected = model[0].auto_model(**{k: torch.tensor(encoded[k]) for k in names}).last_hidden_state.numpy()
    assert np.abs(hidden - expected).max() < 1e-4, np.abs(hidden - expected).max()


def main():
    model = build()
    cases = []
    for case in CASES:
        source = model.encode(case["source_sentence"], convert_to_tensor=True)
        sentences = model.encode(case["sentences"], convert_to_tensor=True)
        cases.append({"inputs": case, "expected": util.cos_sim(source, sentences).tolist()[0]})
    json.dump({"model": "bert", "tolerance": 1e-5, "cases": cases}, open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    print(json.dumps([c["expected"] for c in cases])[:400])


if __name__ == "__main__":
    main()
