"""Vectors of papers and queries, for search by meaning: WordLlama's token vectors, averaged, offline.

WordLlama (`wordllama` on PyPI, pinned in pyproject.toml) is a static embedding: a text's
vector is the mean of its tokens' vectors (256 dimensions, trained from the token embeddings of
large language models), so it runs on a CPU at thousands of texts a second and needs nothing
but its two files, which ship inside the wheel: the tokenizer and the weights. They are read
here directly, not through `WordLlama.load`, whose file lookup can fall back to a download:
nothing here can reach the network.

The tokenizer has no pre-tokenizer: it runs BPE over the whole text with spaces made `▁`, and
no token holds a `▁` after its first character, so a text's tokens are its words' tokens, one
word after another. Each distinct word is therefore tokenised once and remembered (a bounded
cache): abstracts repeat their words, and that makes a build's embedding several times faster
than tokenising whole texts, with the same vectors.

Stored vectors are int8 (256 bytes a paper): each unit vector scaled so that its largest
component is 127. Cosine similarity is scale-free, and the rounding moves it by less than 0.01,
far less than what separates papers; the sign bits of the same bytes are the binary codes the
server searches first (`loader.meaning`).
"""

from __future__ import annotations

import importlib.util
from itertools import chain
from functools import lru_cache
from pathlib import Path

import numpy as np

DIMENSIONS = 256
WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
WORD_CACHE = 200_000  # distinct words remembered; a full cache starts again (at 1M papers: ~60 MB)
BATCH = 128  # texts summed at once


class ModelMissing(Exception):
    """A package whose data files this project reads (WordLlama's model, symspellpy's English word
    list), or one of those files, is not installed."""


def package_files(package: str, *paths: Path) -> tuple[Path, ...]:
    """Files shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelMissing(f"the {package} package is not installed (pip install -e .)")
    files = tuple(Path(spec.origin).parent / path for path in paths)
    for path in files:
        if not path.is_file():
            raise ModelMissing(f"{path}: missing from the {package} package")
    return files


def model_files() -> tuple[Path, Path]:
    """The weights and the tokenizer inside the installed `wordllama` package."""
    weights, tokenizer = package_files("wordllama", WEIGHTS, TOKENIZER)
    return weights, tokenizer


class Embedder:
    """Texts -> unit vectors (float32), the same for a text whatever else is in the batch."""

    def __init__(self, weights: Path, tokenizer: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.matrix = load_file(str(weights))["embedding.weight"].astype(np.float32)  # 32,000 x 256: 33 MB
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.cache: dict[str, list[int]] = {}

    def vectors(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text; a text without a word gets zeros."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            out[start : start + BATCH] = self._batch(texts[start : start + BATCH])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        words = [text.split() for text in texts]
        ids, bounds = self._token_ids(words)
        matrix = self.matrix
        sums = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            if end > start:
                sums[row] = matrix[ids[start:end]].sum(axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)

    def _token_ids(self, texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The texts' token ids one after another, and where each text's start (and the last ends).

        Made with numpy from each distinct word's tokens: a Python loop over every token of
        every text cost three quarters of embedding.
        """
        flat = [word for text in texts for word in text]
        unique = list(dict.fromkeys(flat))
        tokens = self._tokens(unique)
        sizes = np.fromiter((len(tokens[word]) for word in unique), dtype=np.int64, count=len(unique))
        firsts = np.cumsum(sizes) - sizes
        pooled = np.fromiter(chain.from_iterable(tokens[word] for word in unique), dtype=np.int64, count=int(sizes.sum()))
        at = {word: i for i, word in enumerate(unique)}
        places = np.fromiter(map(at.__getitem__, flat), dtype=np.int64, count=len(flat))
        counts = sizes[places]  # tokens of each word of each text
        ends = np.cumsum(counts)
        ids = pooled[np.repeat(firsts[places] - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)]
        word_bounds = np.cumsum([0] + [len(text) for text in texts])
        return ids, np.concatenate(([0], ends))[word_bounds]

    def _tokens(self, words: list[str]) -> dict[str, list[int]]:
        """Each of these distinct words' token ids, tokenising only the words not seen before."""
        cache = self.cache
        new = [word for word in words if word not in cache]
        if len(cache) + len(new) > WORD_CACHE:
            cache.clear()
            new = words
        for word, encoding in zip(new, self.tokenizer.encode_batch(new, add_special_tokens=False)):
            cache[word] = encoding.ids
        return cache


@lru_cache(maxsize=1)
def embedder() -> Embedder:
    """The one embedder of this process (33 MB of weights, loaded in about 0.2 s)."""
    return Embedder(*model_files())


def paper_text(title: str, abstract: str) -> str:
    """What a paper's vector is made from."""
    return f"{title} {abstract}"


def to_int8(vectors: np.ndarray) -> list[bytes]:
    """Unit vectors as stored: each scaled so its largest component is 127, then rounded."""
    peaks = np.abs(vectors).max(axis=1, keepdims=True)
    scaled = np.divide(vectors * 127.0, peaks, out=np.zeros_like(vectors), where=peaks > 0)
    return [row.tobytes() for row in np.rint(scaled).astype(np.int8)]


def from_int8(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors back as unit float32 vectors."""
    matrix = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), DIMENSIONS).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
