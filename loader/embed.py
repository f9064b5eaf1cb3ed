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
WORD_CACHE = 100_000  # distinct words remembered; a full cache starts again (about 15 MB; 30 MB less
# at its peak than 200,000 words, and as fast on a million papers' names)
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
        self._forget_words()

    def _forget_words(self) -> None:
        """The word cache, as arrays: word -> number, and each number's tokens in one pool.

        A dict of token lists cost some 575 bytes a word (115 MB of a parser at 200,000 words);
        this costs about 100.
        """
        self.numbers: dict[str, int] = {}
        self.firsts = np.zeros(0, dtype=np.int64)  # where each word's tokens start in `pool`
        self.sizes = np.zeros(0, dtype=np.int64)  # how many tokens each word has
        self.pool = np.zeros(0, dtype=np.int32)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text; a text without a word gets zeros."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            out[start : start + BATCH] = self._batch(texts[start : start + BATCH])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        ids, bounds = self._token_ids([text.split() for text in texts])
        matrix = self.matrix
        sums = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # One small gather a text: a gather of the whole batch's tokens at once is slower
        # (its tens of megabytes leave the CPU's caches).
        for row, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            if end > start:
                sums[row] = matrix[ids[start:end]].sum(axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)

    def _token_ids(self, texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The texts' token ids one after another, and where each text's start (and the last ends).

        Made with numpy from each word's cached tokens: a Python loop over every token of
        every text cost three quarters of embedding.
        """
        flat = [word for text in texts for word in text]
        self._learn(flat)
        places = np.fromiter(map(self.numbers.__getitem__, flat), dtype=np.int64, count=len(flat))
        counts = self.sizes[places]  # tokens of each word of each text
        ends = np.cumsum(counts)
        total = int(ends[-1]) if len(ends) else 0
        ids = self.pool[np.repeat(self.firsts[places] - (ends - counts), counts) + np.arange(total)]
        word_bounds = np.cumsum([0] + [len(text) for text in texts])
        return ids, np.concatenate(([0], ends))[word_bounds]

    def _learn(self, words: list[str]) -> None:
        """Tokenise the words not seen before; a full cache starts again."""
        new = list(set(words).difference(self.numbers))
        if not new:
            return
        if len(self.numbers) + len(new) > WORD_CACHE:
            self._forget_words()
            new = list(set(words))
        encodings = self.tokenizer.encode_batch(new, add_special_tokens=False)
        sizes = np.fromiter((len(encoding.ids) for encoding in encodings), dtype=np.int64, count=len(new))
        tokens = np.fromiter(chain.from_iterable(encoding.ids for encoding in encodings), dtype=np.int32, count=int(sizes.sum()))
        self.firsts = np.concatenate((self.firsts, len(self.pool) + np.cumsum(sizes) - sizes))
        self.sizes = np.concatenate((self.sizes, sizes))
        self.pool = np.concatenate((self.pool, tokens))
        self.numbers.update(zip(new, range(len(self.numbers), len(self.numbers) + len(new))))


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
