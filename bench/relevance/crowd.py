"""An honest synthetic crowd to hide the real papers in, and a check of how honest a crowd is.

`bench.generate` learns its text from the real dumps: titles are walks over the real titles
(runs of 1-4 real words), abstracts are sentences walked from one real abstract, its topic
(runs of 1-8 real words, 60% of the jumps staying in that abstract). So every word of a real
paper, its made-up method name, its rare numbers and its own word sequences, can be copied
into synthetic papers, and at 100,000 papers each real abstract is the topic of about 400 of
them. A crowd made that way is full of partial clones of the papers the judged queries look
for: `UniPT`, `grokking`, `266,340 chest x-rays` or `Minecraft` then name hundreds of papers,
which no real collection does.

`generate(..., honest=True)` keeps the crowd honest. It feeds the generator (through its
`source` folder) a copy of the real dumps in which every
word used by fewer than `min_papers` real papers (3 by default; a word is a lowercased run of
letters and digits, as both engines index it) is replaced, everywhere and always by the same
stand-in, with a word the generator already makes: a made-up name of 5 consonant-vowel
syllables (`Kovasidelu`; the papers' own names have 4, and the generator drops real words of
that shape from titles), or, for a number, another number of as many digits that no real paper
uses. Case and the punctuation around a word are kept, so sentences, lengths in words, dates,
authors and upvotes stay what the generator learns from the real dumps. The crowd then shares
the real papers' common words and the phrases made of them, but none of the rare words, nor
any phrase that holds one. `honest=False` is `bench.generate.generate` unchanged.

Rare words are not all that identifies a paper: its own sequences of common words do too
("pretrained hierarchical transformer"), and the generator copies runs of up to 8 real words.
Removing such sequences from its source is not an option (two thirds of the pairs of adjacent
content words, and nearly all triples, are used by fewer than 3 real papers: the common words'
frequencies would go with them). So the honest crowd is walked with `rare_below=min_papers`
(`bench.generate.load_model`): a run stops before the word that would complete a triple of
adjacent words without a stop word that fewer than `min_papers` real papers use, and the walk
jumps elsewhere. Within one generated sentence or title no such triple is written; a few
remain where two sentences meet and in the generator's own link sentences. Document
frequencies of the commonest words stay within about 0.03 of the real ones.

`audit(...)` measures it on a built database: which share of the real papers' rare words and
rare triples the synthetic papers contain, and how many synthetic papers hold every word of
each judged query.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable

from bench import generate as generator
from loader.parser import parse_file

MIN_PAPERS = 3  # a word (or word triple) used by fewer real papers is rare
words, WORD, STOP_WORDS = generator.words, generator.WORD, generator.STOP_WORDS
SYLLABLES = generator.SYLLABLES
STAND_IN_SYLLABLES = 5  # made-up paper names have 4: a stand-in never looks like one


def real_papers(source: Path = generator.SOURCE) -> dict[str, tuple[str, str]]:
    """Distinct real papers of the dumps in `source`: title key -> (title, abstract), as the generator reads them."""
    from loader.records import title_key

    papers: dict[str, tuple[str, str]] = {}
    for path in sorted(p for p in Path(source).glob("*.txt") if not p.name.startswith("gen_")):
        for entry in parse_file(str(path))[1]:
            papers.setdefault(title_key(entry.title), (entry.title, entry.abstract))
    return papers


def document_frequencies(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(words(text)))
    return counts


def _stand_in_word(number: int) -> str:
    parts = []
    for _ in range(STAND_IN_SYLLABLES):
        number, digit = divmod(number, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return "".join(parts)


def stand_ins(frequencies: Counter[str], min_papers: int = MIN_PAPERS) -> dict[str, str]:
    """Rare word (lowercased) -> its stand-in: deterministic, distinct, and never a word of the real papers."""
    rare = sorted(w for w, n in frequencies.items() if n < min_papers)
    taken = set(frequencies)
    mapping: dict[str, str] = {}
    for word in rare:
        salt, digits = 0, len(word)
        while True:
            digest = int.from_bytes(hashlib.blake2b(f"{word}/{salt}".encode(), digest_size=8).digest(), "big")
            if word.isdigit():
                # Another number of as many digits (no leading zero unless the original has one);
                # one digit more after every 64 tries that only found numbers already in use.
                if salt and salt % 64 == 0:
                    digits += 1
                low = 10 ** (digits - 1) if digits > 1 and word[0] != "0" else 0
                candidate = str(low + digest % (10**digits - low)).zfill(digits)
            else:
                candidate = _stand_in_word(digest % len(SYLLABLES) ** STAND_IN_SYLLABLES)
            if candidate not in taken:
                break
            salt += 1
        taken.add(candidate)
        mapping[word] = candidate
    return mapping


def _shaped(original: str, stand_in: str) -> str:
    if stand_in.isdigit():
        return stand_in
    if len(original) > 1 and original.isupper():
        return stand_in.upper()
    if original[:1].isupper():
        return stand_in.capitalize()
    return stand_in


def sanitise(text: str, mapping: dict[str, str]) -> str:
    """`text` with every rare word replaced by its stand-in, case and punctuation kept."""

    def swap(match: re.Match) -> str:
        word = match.group(0)
        stand_in = mapping.get(word.lower())
        return word if stand_in is None else _shaped(word, stand_in)

    return WORD.sub(swap, text)


def honest_source(out: Path, source: Path = generator.SOURCE, min_papers: int = MIN_PAPERS) -> Path:
    """Copies of the real dumps in `source`, written to `out`, with the rare words of titles and abstracts replaced.

    Only the lines that are a title or an abstract change (in the dumps each is one line), so
    the copies parse to the same entries, dates, authors and upvotes, with the same lengths in words.
    """
    papers = real_papers(source)
    frequencies = document_frequencies(f"{title}\n{abstract}" for title, abstract in papers.values())
    mapping = stand_ins(frequencies, min_papers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in Path(source).glob("*.txt") if not p.name.startswith("gen_")):
        entries = parse_file(str(path))[1]
        texts = {text for entry in entries for text in (entry.title, entry.abstract)}
        raw = path.read_bytes().decode("utf-8")
        lines = raw.split("\n")
        for index, line in enumerate(lines):
            body = line.rstrip("\r")
            if body in texts:
                lines[index] = sanitise(body, mapping) + line[len(body):]
        (out / path.name).write_bytes("\n".join(lines).encode("utf-8"))
    _check_same_shape(source, out)
    return out


def _check_same_shape(source: Path, copy: Path) -> None:
    """The generator must learn the same lengths, dates, authors and upvotes from the copy."""
    a, b = generator.load_model(Path(source)), generator.load_model(Path(copy))
    for name in ("title_lengths", "abstract_lengths", "ages", "authors", "upvotes"):
        if getattr(a, name) != getattr(b, name):
            raise RuntimeError(f"the honest copy of the dumps changed the generator's {name}")
    generator.load_model.cache_clear()  # the copy is temporary; do not keep its model


def generate(
    papers: int,
    out: Path,
    dumps: int | None,
    seed: int = 0,
    repeat: float = 0.2,
    *,
    jobs: int = 1,
    source: Path = generator.SOURCE,
    honest: bool = False,
    min_papers: int = MIN_PAPERS,
) -> list[Path]:
    """`bench.generate.generate`, plus `honest`: learn the text from real dumps without their rare words.

    Off by default: then it is exactly `bench.generate.generate`.
    """
    if not honest:
        return generator.generate(papers, out, dumps, seed, repeat, jobs=jobs, source=source)
    with tempfile.TemporaryDirectory(prefix="honest-source-") as folder:
        copy = honest_source(Path(folder), source, min_papers)
        try:
            return generator.generate(
                papers, out, dumps, seed, repeat, jobs=jobs, source=copy, rare_below=min_papers
            )
        finally:
            generator.load_model.cache_clear()


# ----------------------------------------------------------------------------- audit


def audit(
    db: Path,
    queries: Iterable[tuple[str, str]],
    source: Path = generator.SOURCE,
    *,
    min_papers: int = MIN_PAPERS,
    sample: int = 20_000,
) -> dict:
    """How much of what identifies one real paper the synthetic papers of `db` contain.

    `queries` are (class, query text). Synthetic papers are those whose title is not a real
    title; at most `sample` of them are read (evenly spread), and counts are scaled to all.
    """
    papers = real_papers(source)
    real_titles = {title for title, _ in papers.values()}
    texts = [f"{title}\n{abstract}" for title, abstract in papers.values()]
    frequencies = document_frequencies(texts)
    rare_words = {w for w, n in frequencies.items() if n < min_papers}
    triple_counts: Counter[tuple[str, str, str]] = Counter()
    for text in texts:
        triple_counts.update(generator.content_triples(words(text)))
    rare_triples = {t for t, n in triple_counts.items() if n < min_papers}
    query_words = [(kind, q, set(words(q))) for kind, q in queries]

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        total = conn.execute("select count(*) from papers").fetchone()[0]
        synthetic = max(0, total - len(real_titles))
        step = max(1, synthetic // sample) if sample else 1
        seen_words: Counter[str] = Counter()
        seen_triples: set[tuple[str, str, str]] = set()
        holding = Counter()  # per query: synthetic papers read that hold every word of it
        read = 0
        position = 0
        for title, abstract in conn.execute("select title, abstract from papers"):
            if title in real_titles:
                continue
            position += 1
            if position % step:
                continue
            read += 1
            tokens = words(f"{title}\n{abstract}")
            present = set(tokens)
            seen_words.update(present & rare_words)
            seen_triples |= generator.content_triples(tokens) & rare_triples
            for index, (_, _, needed) in enumerate(query_words):
                if needed and needed <= present:
                    holding[index] += 1
    finally:
        conn.close()
    scale = synthetic / read if read else 0.0
    return {
        "synthetic": synthetic,
        "read": read,
        "rare_words": len(rare_words),
        "rare_words_in_crowd": len(seen_words),
        "rare_words_seen": [(w, round(n * scale)) for w, n in seen_words.most_common(12)],
        "rare_triples": len(rare_triples),
        "rare_triples_in_crowd": len(seen_triples),
        "queries": [
            (kind, q, round(holding[index] * scale)) for index, (kind, q, _) in enumerate(query_words)
        ],
    }
