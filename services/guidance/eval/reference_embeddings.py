#!/usr/bin/env python3
"""Reference all-MiniLM-L6-v2 sentence embeddings, computed without torch.

A plain numpy BERT forward pass over the same files the service loads
(config.json, model.safetensors, tokenizer.json), then what
sentence-transformers does for this model: mean pooling over the attention
mask and L2 normalisation. Needs only `pip install numpy tokenizers
safetensors`.

    python3 services/guidance/eval/reference_embeddings.py \
        [--model-dir .local/models/all-minilm-l6-v2] > services/guidance/tests/knowledge/reference_embeddings.json

The integration test `embeddings_match_the_reference` compares the
service's vectors with the file this writes.
"""

import argparse
import json
import math
import os

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "Saturn in the seventh house affects marriage",
    "Shani in 7th bhava affects marriage",
    "How do I fast on Ekadashi? I have diabetes, is it okay?",
    "The seventh house (kalatra or yuvati bhava) covers marriage and the spouse, committed partnerships, business partners, contracts and public dealings.",
    "ok",
]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    # erf GELU, as BERT's "gelu"
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(texts, model_dir, max_tokens=256):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in w.items()}
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    tok.no_padding()
    heads = cfg["num_attention_heads"]
    hidden = cfg["hidden_size"]
    dh = hidden // heads
    eps = cfg["layer_norm_eps"]
    out = []
    for t in texts:
        ids = np.array(tok.encode(t).ids)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(n)]
            + w["embeddings.token_type_embeddings.weight"][np.zeros(n, dtype=int)]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def lin(name, v):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin("attention.self.query", x).reshape(n, heads, dh).transpose(1, 0, 2)
            k = lin("attention.self.key", x).reshape(n, heads, dh).transpose(1, 0, 2)
            v = lin("attention.self.value", x).reshape(n, heads, dh).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, hidden)
            a = lin("attention.output.dense", a)
            x = layer_norm(a + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            h = gelu(lin("intermediate.dense", x))
            h = lin("output.dense", h)
            x = layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        m = x.mean(0)
        out.append((m / np.linalg.norm(m)).tolist())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=".local/models/all-minilm-l6-v2")
    args = ap.parse_args()
    vecs = embed(SENTENCES, args.model_dir)
    cos = float(np.dot(vecs[0], vecs[1]))
    json.dump(
        {
            "model": "all-MiniLM-L6-v2",
            "method": "numpy float64 BERT forward, mean pooling, L2 normalisation (eval/reference_embeddings.py)",
            "sentences": SENTENCES,
            "vectors": [[round(v, 6) for v in vec] for vec in vecs],
            "cosine_0_1": cos,
        },
        __import__("sys").stdout,
        indent=None,
    )
    print()


if __name__ == "__main__":
    main()
