"""Synthetic Daily Papers dumps for the scale benchmark, in exactly the real format.

Usage:
    .venv/bin/python -m bench.generate --papers 1000000 --out /tmp/gen --dumps 1000 [--seed 0] [--repeat 0.2]
    .venv/bin/python -m bench.generate --papers 1000000 --out /tmp/gen --one-dump
    (with neither --dumps nor --one-dump: one dump per 1,000 papers; --jobs N: N worker processes)

    from bench.generate import generate
    files = generate(100_000, Path("/tmp/gen"), dumps=100, seed=0, repeat=0.2)  # dumps=None: one dump

It writes `gen_00001.txt`, `gen_00002.txt`, ... to `out`, after deleting any `gen_*.txt` already
there. Sorting the names puts the files in page-date order. What goes in them:

- `papers` (N) is the number of DISTINCT papers. Each paper is introduced exactly once, and the
  new papers are split evenly over the M dumps: dump k gets papers N*k//M to N*(k+1)//M - 1, in
  that order. Repeats are ON TOP of that count. In every dump after the first, each entry is,
  with probability `repeat`, a paper introduced in an earlier dump, so a dump holds about
  N/M/(1-repeat) entries (N/M/0.8 by default). The first dump has no repeats, and neither does a
  single dump (`--one-dump`). A repeat has the identical title and abstract, regenerated from its
  per-paper seed (no text is kept in memory), and the same date, authors and organisation. What
  the listing shows may differ: metadata block or not, upvotes or not, more upvotes, year or not.
  A repeat is any earlier paper (40%), one from the previous five dumps (40%), or one of a few
  "perennial" papers (every 97th) that keep coming back (20%).
- Page dates rise with the file names. Capture dates are spread evenly from 2023-01-03 to
  2026-03-27; a single dump is captured on 2025-10-30. A paper's date is the capture date of its
  first dump minus an age drawn from the real ages in data/. So a date is printed without a year
  exactly when it falls in the capture year of the dump showing it, it is never after the page
  date, and every printed year is earlier than the capture year: the loader can infer the year.
- Chrome: with the "Daily Papers" line in about 60% of dumps. Metadata blocks: 25% of dumps have
  none at all, like two of the real dumps; the rest show them on 93% of entries, which makes about
  70% overall (a single dump: 70% of entries). An entry shows `  • N authors`, or, for 4% of
  papers, an organisation line (`Name-Lab Name-Lab`, doubled as in the real dump). Upvote counts
  follow about 20% of dates. Authors, ages and upvotes are drawn from the real values.
- Titles are random walks over the real titles: a run of 1-4 real words, then a jump to another
  occurrence of the last word. That is an order-1 Markov chain with some longer contexts. Each
  title also holds one made-up name (`KoravemiNet`, `LUSATODI`, `Zelopiki-7B`). The name's 8
  letters encode the paper's number, and no word of the title bodies has that shape, so every
  normalised title is different. Lengths in words are drawn from the real titles.
- Abstracts are sentences drawn from a pool: 2 sentences per paper, between 20,000 and 200,000
  sentences. The pool is built once per run from the seed. Each sentence is a walk like the
  titles' (runs of 1-8 words) from a sentence start of one real abstract, its topic, to a
  sentence end. With probability 0.6 each jump stays in that topic's abstract. An abstract draws
  its sentences from one topic until it reaches a length drawn from the real abstracts. So
  common words are common, rarer words cluster by topic, and hyphenated compounds
  (pre-training, fine-tuning, self-supervised) appear as often as in the real text. Document
  frequencies match data/ to within 0.03 on average over its 500 commonest words (e.g. "model"
  is in 0.66 of the abstracts in both). At 1M papers each sentence is reused about 45 times.
  70% of abstracts name the paper's method ("We call our method KoravemiNet.").
- About 35% of abstracts carry links, in the shapes of real abstracts:
  `https://github.com/o/n` at the end of the text, followed by `.`, in parentheses
  (`...n).` / `...n)`), with a trailing `/`, `.git`, `/tree/main/...` or `/blob/...` deep links,
  `https;//github.com/...`, `github.com/o/n` without a scheme, `at~https://github.com/...`,
  `https://owner.github.io/Name` and `owner.github.io/name` pages, and `https://huggingface.co/...`
  (owner, model, dataset or space). About 10% of them add a second link. Owners come from a
  skewed pool, so some own many repositories. About 6% of the links go to a small set of
  repositories (one per 250 papers) that several papers share. Papers 0-11 have one shape each,
  so every shape occurs in any output of 12 papers or more.

The output is deterministic for a given seed, N, M and the same data/ dumps, whatever `jobs` is.
Every paper has its own seed, and so does every segment of at most 2,000 new papers of a dump
(its repeats and what its listing shows). Repeats are unique within a segment only: a dump of
more than 2,000 new papers may list an old paper twice, which the loader accepts. The work is
done segment by segment and written in order, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import resource
import sys
import time
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from loader.records import title_key
from loader.links import URL_RE
from loader.parser import MONTHS, parse_file

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data"
SEGMENT = 2_000  # new papers per unit of work (and per seed) at most
FIRST_CAPTURE = date(2023, 1, 3).toordinal()
LAST_CAPTURE = date(2026, 3, 27).toordinal()
SINGLE_CAPTURE = date(2025, 10, 30).toordinal()

CODE_RATE = 0.35  # abstracts with links (code, project page or Hugging Face)
SHARED_RATE = 0.06  # code links that go to a repository shared with other papers
SECOND_LINK_RATE = 0.10  # code papers that also give a project page or Hugging Face link
ORG_RATE = 0.04  # papers listed under an organisation rather than "N authors"
UPVOTE_RATE = 0.20  # shown dates followed by an upvote count
BARE_DUMP_RATE = 0.25  # dumps without any metadata block (like 001 and 004 in data/)
META_RATE = 0.93  # entries with metadata in the other dumps; about 70% overall
SINGLE_META_RATE = 0.70  # entries with metadata in a single dump
DAILY_PAPERS_RATE = 0.6  # dumps whose chrome has the "Daily Papers" line
NAME_MENTION_RATE = 0.7  # abstracts that name the paper's method

CHROME_HEAD = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
CHROME_TAIL = "byAK and the research community\n\n"

# Made-up names: 4 consonant-vowel syllables encode the paper number (bijectively), then a suffix.
CONSONANTS, VOWELS = "bdfgjklmnprstvxz", "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]
NAME_SPACE = len(SYLLABLES) ** 4  # 40,960,000 distinct names
NAME_MULT, NAME_ADD = 2654435761 % NAME_SPACE, 12345  # coprime to NAME_SPACE: a bijection of its range
SUFFIXES = ("Net", "Former", "GPT", "LM", "Diff", "Bench", "Gen", "Seg", "VLA", "Fusion", "Mamba", "CLIP", "RL", "ViT")
NAME_PIECE = re.compile(
    rf"^(?:[{CONSONANTS}][{VOWELS}]){{4}}(?:{'|'.join(s.lower() for s in SUFFIXES)})?$"
)
TITLE_STOP = frozenset("a an the of for with and in on to via from by at as or is are & - – :".split())
URL_LIKE = re.compile(r"https?[:;]//|github|gitlab|huggingface\.co|\.io\b|www\.|\.com\b|\.org\b", re.I)
WORD = re.compile(r"[^\W_]+")  # a run of letters and digits: what both search engines index as one word
# A triple of adjacent words with one of these is generic ("of the pre", "we propose a").
STOP_WORDS = frozenset(
    """a an and are as at be been both but by can do does each for from has have how i e in into is it its
    may more most not of on one only or other our over such than that the their these this through to
    two under using via was we were what when where which while who will with without""".split()
)

SHAPES = ("dot", "plain", "paren", "slash", "git", "tree", "typo", "bare", "tilde", "io", "io_bare", "hf")
SHAPE_WEIGHTS = (40, 12, 8, 5, 5, 7, 2, 4, 3, 5, 2, 7)
LEADS = (
    "Code is available at",
    "Our code is publicly available at",
    "The code and models will be released at",
    "Code and data are available at",
    "Full code is available at:",
    "We release our code at",
    "Data & Project website:",
    "Source code:",
)
LEADS_AT = ("Code will be released at", "Models and code are available at", "The code can be found at")
LEADS_PAREN = ("The code is publicly available", "Our implementation is open-source", "Code will be released")
LEADS_PAGE = ("Project page:", "Project website:", "More results are shown at", "Visit our project page at")
LEADS_HF = ("Models and datasets are available at", "We release the checkpoints at", "Weights:")
MENTIONS = (
    "We introduce {}.",
    "To address this, we propose {}.",
    "We call our method {}.",
    "In this work, we present {}.",
    "We name the resulting model {}.",
)
REPO_TAILS = ("pytorch", "official", "code", "release", "main")
SHARED_TAILS = ("toolkit", "benchmark", "models", "hub", "lib", "zoo", "suite")
ORG_TAILS = ("AI", "Lab", "Research", "Embedding", "Group", "Team")
TREE_PATHS = ("tree/main", "tree/main/src", "tree/master/projects/{}", "tree/main/research/{}", "blob/main/README.md")


# ----------------------------------------------------------------------------- model of the real text


@dataclass
class Walk:
    """Tokens of real texts, laid end to end, with where each token occurs again."""

    tokens: list[str]
    jumps: list[list[int]]  # per position: positions of the same token that have a successor
    starts: list[int]  # where a walk may begin (text starts, and sentence starts in abstracts)
    docs: list[int]  # per position: which text it comes from
    local: dict[tuple[int, str], list[int]]  # (text, token): its positions in that text with a successor
    same_doc: list[list[int]]  # per position: local[(its text, its token)]
    doc_starts: list[list[int]]  # per text: its entries of `starts`
    next_end: list[int]  # per position: the first sentence end at or after it
    words: list[tuple[str, ...]]  # per position: its words, lowercased (a token like "pre-training" has two)
    avoid: frozenset[tuple[str, str, str]]  # word triples never to write (see load_model's `rare_below`)


@dataclass
class Model:
    titles: Walk
    abstracts: Walk
    title_lengths: list[int]  # words per real title
    abstract_lengths: list[int]  # words per real abstract
    ages: list[int]  # days between a paper's date and the capture date of a dump showing it
    authors: list[int]
    upvotes: list[int]


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def content_triples(tokens: list[str]) -> set[tuple[str, str, str]]:
    """Triples of adjacent words, none of them a stop word: the word sequences that identify a text."""
    return {t for t in zip(tokens, tokens[1:], tokens[2:]) if not STOP_WORDS.intersection(t)}


def _walk_model(texts: list[list[str]], sentences: bool, avoid: frozenset[tuple[str, str, str]]) -> Walk:
    tokens: list[str] = []
    starts: list[int] = []
    docs: list[int] = []
    ends: list[int] = []
    doc_starts: list[list[int]] = []
    for number, text in enumerate(texts):
        doc_starts.append([])
        for index, token in enumerate(text):
            if index == 0 or (sentences and text[index - 1][-1] in ".!?" and token[:1].isupper()):
                starts.append(len(tokens))
                doc_starts[-1].append(len(tokens))
            following = text[index + 1] if index + 1 < len(text) else ""
            if not following or (token[-1] in ".!?" and following[:1].isupper()):
                ends.append(len(tokens))
            tokens.append(token)
            docs.append(number)
    occurrences: dict[str, list[int]] = {}
    local: dict[tuple[int, str], list[int]] = {}
    for position, token in enumerate(tokens[:-1]):
        occurrences.setdefault(token, []).append(position)
        local.setdefault((docs[position], token), []).append(position)
    fallback = [start - 1 for start in starts if start]
    jumps = [occurrences.get(token) or fallback for token in tokens]
    same_doc = [local.get((doc, token)) or jumps[p] for p, (doc, token) in enumerate(zip(docs, tokens))]
    next_end = [0] * len(tokens)
    upcoming = len(tokens) - 1
    for position in range(len(tokens) - 1, -1, -1):
        if ends and ends[-1] == position:
            upcoming = ends.pop()
        next_end[position] = upcoming
    token_words = [tuple(words(token)) for token in tokens]
    return Walk(tokens, jumps, starts, docs, local, same_doc, doc_starts, next_end, token_words, avoid)


def _title_body(title: str) -> list[str]:
    """A real title without its leading `Name:` part, minus words that could pass for our names."""
    words = title.split()
    for index, word in enumerate(words[:4]):
        if word.endswith(":") and index + 1 < len(words):
            words = words[index + 1 :]
            break
    return [w for w in words if not any(NAME_PIECE.match(piece) for piece in title_key(w).split())]


def _abstract_words(abstract: str) -> list[str]:
    """A real abstract without its sentences that hold links (links are added separately)."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", abstract)
    words = [w for s in sentences if not URL_LIKE.search(s) for w in s.split()]
    return [w for w in words if not URL_RE.search(w) and not URL_LIKE.search(w)]


@lru_cache(maxsize=4)
def load_model(source: Path = SOURCE, rare_below: int = 0) -> Model:
    """Read the real dumps: distinct papers' texts, lengths, dates' ages, authors and upvotes.

    With `rare_below`, the walks never write a triple of adjacent words (no stop word) that
    fewer than `rare_below` real papers use: such a sequence identifies its paper, and copying it
    into synthetic ones makes partial clones of the papers a benchmark looks for.
    Cached per folder for the life of the process (the model is never modified).
    """
    files = sorted(p for p in Path(source).glob("*.txt") if not p.name.startswith("gen_"))
    if not files:
        raise ValueError(f"no real dumps (*.txt) in {source} to learn the text from")
    seen: set[str] = set()
    titles: list[list[str]] = []
    abstracts: list[list[str]] = []
    title_lengths: list[int] = []
    abstract_lengths: list[int] = []
    ages: list[int] = []
    authors: list[int] = []
    upvotes: list[int] = []
    for path in files:
        page, entries = parse_file(str(path))
        years = [e.date.year for e in entries if e.date and e.date.year]
        # The capture year, as the loader infers it: the year after the latest printed year.
        capture_year = max(years) + 1 if years else None
        for entry in entries:
            if entry.authors_count:
                authors.append(entry.authors_count)
            if entry.upvotes:
                upvotes.append(entry.upvotes)
            if entry.date and capture_year:
                try:
                    shown = date(entry.date.year or capture_year, entry.date.month, entry.date.day)
                    captured = date(capture_year, page.date.month, page.date.day)
                except ValueError:
                    pass
                else:
                    if shown <= captured:
                        ages.append((captured - shown).days)
            key = title_key(entry.title)
            if key in seen:
                continue
            seen.add(key)
            title_lengths.append(len(entry.title.split()))
            abstract_lengths.append(len(entry.abstract.split()))
            titles.append(_title_body(entry.title))
            abstracts.append(_abstract_words(entry.abstract))
    avoid = _rare_triples(titles, abstracts, rare_below)
    return Model(
        titles=_walk_model([t for t in titles if t], sentences=False, avoid=avoid),
        abstracts=_walk_model([a for a in abstracts if a], sentences=True, avoid=avoid),
        title_lengths=title_lengths,
        abstract_lengths=abstract_lengths,
        ages=ages or [30, 200, 400, 800],
        authors=authors or [3, 5, 8],
        upvotes=upvotes or [1, 2, 3],
    )


def _rare_triples(titles: list[list[str]], abstracts: list[list[str]], rare_below: int) -> frozenset:
    """Content word triples used by fewer than `rare_below` of the papers (title and abstract together)."""
    if not rare_below:
        return frozenset()
    counts: dict[tuple[str, str, str], int] = {}
    for title, abstract in zip(titles, abstracts):
        for triple in content_triples(words(" ".join(title))) | content_triples(words(" ".join(abstract))):
            counts[triple] = counts.get(triple, 0) + 1
    return frozenset(t for t, n in counts.items() if n < rare_below)


def _fitting(walk: Walk, tail: list[str], position: int, end: int, strict: bool) -> int:
    """How many tokens of `walk.tokens[position:end]` may follow the last words written, `tail`.

    A token fits unless it would complete a triple of `walk.avoid`; `tail` becomes the last two
    words of what fits. Not `strict`: everything fits (a walk that keeps missing must still end).
    """
    if not walk.avoid or not strict:
        return end - position
    avoid, token_words = walk.avoid, walk.words
    for p in range(position, end):
        sequence = tail + list(token_words[p])
        if any(t in avoid for t in zip(sequence, sequence[1:], sequence[2:])):
            return p - position
        tail[:] = sequence[-2:]
    return end - position


# Jumps in a row whose next word would write a rare triple: after RESTART a walk starts again
# elsewhere (many tokens, "(Dense", have only one continuation), after GIVE_UP it stops avoiding.
RESTART, GIVE_UP = 4, 64
TITLE_RUNS = (1, 2, 2, 3, 3, 4)  # words copied between jumps
SENTENCE_RUNS = (1, 2, 3, 3, 4, 4, 5, 6, 8)  # words copied between jumps
SENTENCE_HOME = 0.6  # tuned so that document frequencies match data/
SENTENCE_WORDS = (6, 60)  # shortest and longest generated sentence
POOL_SIZE = (20_000, 200_000)  # sentences in the pool: 2 per paper, within these bounds


def _walk(rnd, walk: Walk, count: int, runs: tuple[int, ...]) -> list[str]:
    """`count` words: copy a short run of real text, jump to another occurrence of its last word, repeat."""
    tokens, jumps, starts, next_end = walk.tokens, walk.jumps, walk.starts, walk.next_end
    size, nstarts, nruns = len(tokens), len(starts), len(runs)
    position = starts[int(rnd() * nstarts)]
    out: list[str] = []
    tail: list[str] = []  # the last two words written
    last = misses = 0  # last: where the last token written occurs in the real text
    while len(out) < count:
        end = min(position + runs[int(rnd() * nruns)], next_end[position] + 1)  # not into the next text
        fit = _fitting(walk, tail, position, end, misses < GIVE_UP)
        if fit:
            out += tokens[position : position + fit]
            last, misses = position + fit - 1, 0
        else:
            misses += 1
        if last + 1 >= size or not out or (misses and misses % RESTART == 0):
            position = starts[int(rnd() * nstarts)]
            continue
        options = jumps[last]
        position = options[int(rnd() * len(options))] + 1
    del out[count:]
    return out


def _sentence(rnd, walk: Walk, home: int) -> list[str]:
    """One sentence on the topic of real text `home`: a walk from one of its sentence starts to a sentence end.

    Jumps go, with probability SENTENCE_HOME, to an occurrence of the word in `home` itself, so
    a topic's words cluster in the abstracts built from its sentences, as in real text.
    """
    tokens, jumps, docs, local, same_doc, next_end = (
        walk.tokens, walk.jumps, walk.docs, walk.local, walk.same_doc, walk.next_end
    )
    shortest, longest = SENTENCE_WORDS
    runs, nruns, size = SENTENCE_RUNS, len(SENTENCE_RUNS), len(tokens)
    starts = walk.doc_starts[home]
    position = starts[int(rnd() * len(starts))]
    out: list[str] = []
    tail: list[str] = []  # the last two words written
    last = misses = 0  # last: where the last token written occurs in the real text
    while True:
        end = position + runs[int(rnd() * nruns)]
        stop = next_end[position]
        closing = stop < end and len(out) + stop - position + 1 >= shortest
        if closing:
            end = stop + 1
        fit = _fitting(walk, tail, position, min(end, size), misses < GIVE_UP)
        if position + fit == end and closing:
            out += tokens[position:end]
            return out
        if fit:
            out += tokens[position : position + fit]
            last, misses = position + fit - 1, 0
        else:
            misses += 1
        if not out or (misses and misses % RESTART == 0 and len(out) < shortest):
            position = starts[int(rnd() * len(starts))]
            continue
        if len(out) >= longest or last + 1 >= size or (misses and misses % RESTART == 0):
            final = out[-1].rstrip(",;:")
            out[-1] = (final or "results") + ("" if final[-1:] in ".!?" else ".")
            return out
        if rnd() >= SENTENCE_HOME:
            options = jumps[last]
        elif docs[last] == home:
            options = same_doc[last]
        else:
            options = local.get((home, tokens[last])) or jumps[last]
        position = options[int(rnd() * len(options))] + 1


def build_pool(model: Model, papers: int, seed: int) -> list[tuple[list[str], list[int]]]:
    """Per real abstract (topic): generated sentences and their lengths in words."""
    walk = model.abstracts
    topics = len(walk.doc_starts)
    low, high = POOL_SIZE
    per_topic = -(-min(high, max(low, 2 * papers)) // topics)
    rng = random.Random((seed << 2) | 3)  # low bits 3: unlike every key of Layout.key
    rnd = rng.random
    pool = []
    for topic in range(topics):
        sentences, lengths = [], []
        for _ in range(per_topic):
            words = _sentence(rnd, walk, topic)
            sentences.append(" ".join(words))
            lengths.append(len(words))
        pool.append((sentences, lengths))
    return pool


# ----------------------------------------------------------------------------- names


def _syllables(number: int, count: int) -> str:
    parts = []
    for _ in range(count):
        number, digit = divmod(number, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return "".join(parts)


SYLLABLE_PAIRS = [a + b for a in SYLLABLES for b in SYLLABLES]


def paper_code(index: int) -> str:
    """The 8 letters that identify paper `index`: distinct for every index below NAME_SPACE."""
    high, low = divmod((index * NAME_MULT + NAME_ADD) % NAME_SPACE, len(SYLLABLE_PAIRS))
    return SYLLABLE_PAIRS[high] + SYLLABLE_PAIRS[low]


def _paper_name(index: int, rnd) -> str:
    code = paper_code(index).capitalize()
    style = rnd()
    suffix = SUFFIXES[int(rnd() * len(SUFFIXES))]
    if style < 0.55:
        return code + suffix
    if style < 0.75:
        return code
    if style < 0.85:
        return code.upper()
    version = ("-7B", "-2", "-v2", "-1.5", "-XL", "-3")[int(rnd() * 6)]
    return code + (suffix if rnd() < 0.5 else "") + version


def owner_name(number: int) -> str:
    letters = _syllables((number * 40503 + 977) % len(SYLLABLES) ** 3, 3)
    style = number % 7
    if style == 0:
        return letters.capitalize()
    if style == 1:
        return f"{letters}-lab"
    if style == 2:
        return f"{letters.capitalize()}AI"
    if style == 3:
        return f"{letters}{number % 97}"
    if style == 4:
        return f"{letters[:4].capitalize()}-{letters[4:].capitalize()}"
    if style == 5:
        return letters.upper()
    return letters


def org_name(number: int) -> str:
    letters = _syllables((number * 7919 + 31) % len(SYLLABLES) ** 3, 2 + number % 2)
    return f"{letters.capitalize()}-{ORG_TAILS[number % len(ORG_TAILS)]}"


# ----------------------------------------------------------------------------- layout and papers


@dataclass(frozen=True)
class Layout:
    papers: int
    dumps: int
    single: bool
    seed: int
    repeat: float

    def first_new(self, dump: int) -> int:
        """Number of the first paper introduced by `dump` (0-based)."""
        return self.papers * dump // self.dumps

    def dump_of(self, paper: int) -> int:
        """The dump that introduces `paper`."""
        return ((paper + 1) * self.dumps - 1) // self.papers

    def capture(self, dump: int) -> int:
        """Capture date of `dump` as an ordinal: non-decreasing with the file order."""
        if self.single:
            return SINGLE_CAPTURE
        span = LAST_CAPTURE - FIRST_CAPTURE
        return FIRST_CAPTURE + (span * dump // (self.dumps - 1) if self.dumps > 1 else span)

    @property
    def owners(self) -> int:
        return max(8, int(self.papers * CODE_RATE / 2.5))

    @property
    def shared(self) -> int:
        return max(3, self.papers // 250)

    @property
    def orgs(self) -> int:
        return max(4, self.papers // 1500)

    def key(self, *parts: int) -> int:
        """A seed for one paper (one part) or one dump segment (two parts)."""
        key = self.seed
        for part in parts:
            key = (key << 40) | part
        return (key << 2) | len(parts)


# A paper: (title, abstract, authors, organisation or None, date as an ordinal, upvotes when first shown)
Paper = tuple[str, str, int, "str | None", int, int]

MODEL: Model | None = None
LAYOUT: Layout | None = None
POOL: list[tuple[list[str], list[int]]] = []
_RNG = random.Random()


def make_paper(index: int) -> Paper:
    """Paper `index`, entirely from its own seed: call it twice and get the same paper."""
    model, layout, pool = MODEL, LAYOUT, POOL
    assert model is not None and layout is not None
    rng = _RNG
    rng.seed(layout.key(index))
    rnd = rng.random
    name = _paper_name(index, rnd)

    # Title: a walk over real titles around the made-up name.
    lengths = model.title_lengths
    length = lengths[int(rnd() * len(lengths))]
    form = rnd()
    words = _walk(rnd, model.titles, max(2, length - (2 if 0.6 <= form < 0.85 else 1)), TITLE_RUNS)
    while len(words) > 1 and (words[-1].lower() in TITLE_STOP or words[-1][-1] in ":,;-–"):
        words.pop()
    body = " ".join(words).rstrip(":,;")
    body = body[:1].upper() + body[1:]
    if form < 0.6:
        title = f"{name}: {body}"
    elif form < 0.75:
        title = f"{body} with {name}"
    elif form < 0.85:
        title = f"{body} via {name}"
    else:
        title = f"{body}: {name}"

    # Abstract: sentences on one topic, maybe naming the method, maybe with code links.
    lengths = model.abstract_lengths
    length = int(lengths[int(rnd() * len(lengths))] * (0.9 + 0.2 * rnd()))
    mention = MENTIONS[int(rnd() * len(MENTIONS))].format(name) if rnd() < NAME_MENTION_RATE else None
    if index < len(SHAPES):
        links = _links(index, name, rnd, SHAPES[index])
    elif rnd() < CODE_RATE:
        links = _links(index, name, rnd, _weighted(rnd, SHAPES, SHAPE_WEIGHTS))
    else:
        links = None
    budget = length - 16  # the last sentence overshoots the budget by about this much
    if mention:
        budget -= mention.count(" ") + 1
    if links:
        budget -= links[0].count(" ") + 1
    sentences, counts = pool[int(rnd() * len(pool))]
    choices = len(sentences)
    picks: list[int] = []
    words_so_far = 0
    while words_so_far < budget or not picks:
        pick = int(rnd() * choices)
        if pick in picks and choices > 40:
            continue
        picks.append(pick)
        words_so_far += counts[pick]
    parts = [sentences[pick] for pick in picks]
    if mention:
        parts.insert(1, mention)
    if links:
        sentence, at_end = links
        if at_end or rnd() < 0.85:
            parts.append(sentence)
        else:
            parts.insert(1 + int(rnd() * (len(parts) - 1)), sentence)
    abstract = " ".join(parts)

    authors = model.authors[int(rnd() * len(model.authors))]
    if rnd() < 0.02:
        authors *= 4  # the long tail: big collaborations
    organisation = org_name(int(layout.orgs * rnd() ** 2)) if rnd() < ORG_RATE else None
    age = max(0, model.ages[int(rnd() * len(model.ages))] + int(rnd() * 21) - 10)
    upvotes = model.upvotes[int(rnd() * len(model.upvotes))]
    if rnd() < 0.03:
        upvotes = upvotes * 10 + int(rnd() * 10)
    return title, abstract, authors, organisation, layout.capture(layout.dump_of(index)) - age, upvotes


def _weighted(rnd, items, weights):
    total = sum(weights)
    point = rnd() * total
    for item, weight in zip(items, weights):
        point -= weight
        if point < 0:
            return item
    return items[-1]


def _repo(index: int, name: str, rnd) -> tuple[str, str]:
    """(owner, repository name) of the code linked by paper `index`."""
    layout = LAYOUT
    assert layout is not None
    if rnd() < SHARED_RATE:
        shared = int(layout.shared * rnd())
        owner = owner_name(shared % min(layout.owners, 64))
        return owner, f"{_syllables(shared * 131 + 7, 2).capitalize()}-{SHARED_TAILS[shared % len(SHARED_TAILS)]}"
    owner = owner_name(int(layout.owners * rnd() ** 2))
    style = rnd()
    if style < 0.6:
        return owner, name
    if style < 0.8:
        return owner, name.lower()
    return owner, f"{name}-{REPO_TAILS[int(rnd() * len(REPO_TAILS))]}"


def _links(index: int, name: str, rnd, shape: str) -> tuple[str, bool]:
    """The sentence with the links, and whether it must end the abstract."""
    owner, repo = _repo(index, name, rnd)
    url = f"https://github.com/{owner}/{repo}"
    lead = LEADS[int(rnd() * len(LEADS))]
    page_owner = owner.lower()
    at_end = False
    if shape == "dot":
        sentence = f"{lead} {url}."
    elif shape == "plain":
        sentence, at_end = f"{lead} {url}", True
    elif shape == "paren":
        lead = LEADS_PAREN[int(rnd() * len(LEADS_PAREN))]
        sentence, at_end = (f"{lead} ({url}).", False) if rnd() < 0.5 else (f"{lead} (see {url})", True)
    elif shape == "slash":
        sentence = f"{lead} {url}/."
    elif shape == "git":
        sentence, at_end = (f"{lead} {url}.git", True) if rnd() < 0.5 else (f"{lead} {url}.git.", False)
    elif shape == "tree":
        path = TREE_PATHS[int(rnd() * len(TREE_PATHS))].format(name.lower())
        sentence = f"{lead} {url}/{path}."
    elif shape == "typo":
        sentence = f"{lead} https;//github.com/{owner}/{repo}."
    elif shape == "bare":
        sentence = f"{lead} github.com/{owner}/{repo}."
    elif shape == "tilde":
        lead = LEADS_AT[int(rnd() * len(LEADS_AT))]
        sentence, at_end = (f"{lead}~{url}", True) if rnd() < 0.5 else (f"{lead}~{url}.", False)
    elif shape == "io":
        lead = LEADS_PAGE[int(rnd() * len(LEADS_PAGE))]
        page = f"https://{page_owner}.github.io/{name}" if rnd() < 0.7 else f"https://{name.lower()}.github.io"
        sentence = f"{lead} {page}."
    elif shape == "io_bare":
        lead = LEADS_PAGE[int(rnd() * len(LEADS_PAGE))]
        sentence = f"{lead} {page_owner}.github.io/{name.lower()}."
    else:  # hf
        lead = LEADS_HF[int(rnd() * len(LEADS_HF))]
        where = (owner, f"{owner}/{name}", f"datasets/{owner}/{name.lower()}-data", f"spaces/{owner}/{name}")
        sentence = f"{lead} https://huggingface.co/{where[int(rnd() * 4)]}."
    if not at_end and shape not in ("io", "io_bare", "hf") and rnd() < SECOND_LINK_RATE:
        if rnd() < 0.5:
            sentence += f" Project page: https://{page_owner}.github.io/{name}."
        else:
            sentence += f" Models are available at https://huggingface.co/{owner}/{name}."
    return sentence, at_end


# ----------------------------------------------------------------------------- dumps


def _dump_style(layout: Layout, dump: int) -> tuple[bool, float]:
    """Whether the chrome has the "Daily Papers" line, and the share of entries with metadata."""
    rng = random.Random(layout.key(dump, 1 << 39))
    daily = rng.random() < DAILY_PAPERS_RATE
    if layout.single:
        return daily, SINGLE_META_RATE
    return daily, 0.0 if rng.random() < BARE_DUMP_RATE else META_RATE


def _segments(layout: Layout) -> list[tuple[int, int, int, int]]:
    """Units of work in file order: (dump, segment, first new paper, end of new papers)."""
    units = []
    for dump in range(layout.dumps):
        start, stop = layout.first_new(dump), layout.first_new(dump + 1)
        for segment, first in enumerate(range(start, stop, SEGMENT)):
            units.append((dump, segment, first, min(first + SEGMENT, stop)))
    return units


def render_segment(unit: tuple[int, int, int, int]) -> tuple[int, str]:
    """The text of one segment of a dump, with the chrome and page date for the first segment."""
    layout = LAYOUT
    assert layout is not None
    dump, segment, first, stop = unit
    capture = date.fromordinal(layout.capture(dump))
    daily, meta_rate = _dump_style(layout, dump)
    rng = random.Random(layout.key(dump, segment))
    rnd = rng.random
    earlier = layout.first_new(dump)
    recent = layout.first_new(max(0, dump - 5))
    repeat = layout.repeat if earlier > 0 else 0.0
    shown: set[int] = set()
    printed: dict[int, str] = {}
    parts: list[str] = []
    if segment == 0:
        daily_line = "Daily Papers\n\n" if daily else ""
        parts.append(f"{CHROME_HEAD}{daily_line}{CHROME_TAIL}{MONTHS[capture.month - 1]} {capture.day}")
    index = first
    while index < stop:
        if repeat and rnd() < repeat:
            paper_index = _pick_repeat(rnd, earlier, recent, shown)
            if paper_index is None:
                continue
            title, abstract, authors, organisation, day, upvotes = make_paper(paper_index)
            upvotes += int(rnd() * 4)  # upvotes only grow
        else:
            title, abstract, authors, organisation, day, upvotes = make_paper(index)
            index += 1
        if rnd() < meta_rate:
            who = f"{organisation} {organisation}" if organisation else f"  • {authors} authors"
            when = printed.get(day)
            if when is None:
                shown_day = date.fromordinal(day)
                when = f"{MONTHS[shown_day.month - 1]} {shown_day.day}"
                if shown_day.year != capture.year:  # the year is printed outside the capture year
                    when += f", {shown_day.year}"
                printed[day] = when
            if rnd() < UPVOTE_RATE:
                when = f"{when} {upvotes}"
            parts.append(f"{title}\n\n{abstract}\n\n{who}\n·\n{when}")
        else:
            parts.append(f"{title}\n\n{abstract}")
    return dump, "\n\n".join(parts)


def _pick_repeat(rnd, earlier: int, recent: int, shown: set[int]) -> int | None:
    """An earlier paper: any (40%), one of the last five dumps' (40%) or a perennial one (20%)."""
    for _ in range(8):
        kind = rnd()
        if kind < 0.4 or recent >= earlier:
            choice = int(rnd() * earlier)
        elif kind < 0.8:
            choice = recent + int(rnd() * (earlier - recent))
        else:
            choice = 97 * int(rnd() * ((earlier + 96) // 97))
        if choice < earlier and choice not in shown:
            shown.add(choice)
            return choice
    return None


def generate(
    papers: int,
    out: Path,
    dumps: int | None,
    seed: int = 0,
    repeat: float = 0.2,
    *,
    jobs: int = 1,
    source: Path = SOURCE,
    rare_below: int = 0,
) -> list[Path]:
    """Write the dumps to `out` and return their paths in file (= page date) order.

    `dumps=None` writes one single dump holding all the papers; `jobs` processes share the
    work without changing the output (worth it only with idle cores: on a 2-vCPU machine
    the extra process costs more in transfer than it brings). `rare_below`: see `load_model`.
    """
    if papers < 1 or papers > NAME_SPACE:
        raise ValueError(f"papers must be between 1 and {NAME_SPACE}")
    if dumps is not None and not 1 <= dumps <= papers:
        raise ValueError("dumps must be between 1 and the number of papers")
    if not 0 <= repeat < 1:
        raise ValueError("repeat must be in [0, 1)")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    global MODEL, LAYOUT, POOL
    layout = Layout(papers, dumps or 1, dumps is None, seed, repeat)
    model = load_model(Path(source), rare_below)
    # Set before the workers fork, so they share the model and the sentence pool.
    MODEL, LAYOUT, POOL = model, layout, build_pool(model, papers, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("gen_*.txt"):
        stale.unlink()
    width = max(5, len(str(layout.dumps)))
    paths = [out / f"gen_{dump + 1:0{width}d}.txt" for dump in range(layout.dumps)]
    units = _segments(layout)
    jobs = max(1, min(jobs, len(units)))
    if "fork" not in multiprocessing.get_all_start_methods():
        jobs = 1
    if jobs == 1:
        _write(paths, map(render_segment, units))
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as workers:
            _write(paths, workers.imap(render_segment, units, chunksize=1))
    return paths


def _write(paths: list[Path], rendered) -> None:
    current, stream = -1, None
    try:
        for dump, text in rendered:
            if dump != current:
                if stream:
                    stream.close()
                stream = open(paths[dump], "w", encoding="utf-8", newline="\n")
                current = dump
            else:
                stream.write("\n\n")
            stream.write(text)  # no newline at the end of a file, as in the real dumps
    finally:
        if stream:
            stream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, required=True, help="number of distinct papers")
    parser.add_argument("--out", type=Path, required=True, help="folder for gen_NNNNN.txt (old ones are removed)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dumps", type=int, help="number of dump files (default: one per 1,000 papers)")
    group.add_argument("--one-dump", action="store_true", help="write all papers into one single dump")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=float, default=0.2, help="chance an entry re-lists an earlier paper")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1; more only help with idle cores)")
    args = parser.parse_args(argv)
    dumps = None if args.one_dump else (args.dumps or max(1, args.papers // 1000))
    started = time.perf_counter()
    try:
        paths = generate(args.papers, args.out, dumps, args.seed, args.repeat, jobs=args.jobs)
    except ValueError as error:
        parser.error(str(error))
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in paths)
    peak = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    if args.jobs > 1:
        peak += f", largest worker {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
    print(
        f"{len(paths)} dumps, {args.papers} papers, {size / 1e6:.1f} MB in {args.out} in {seconds:.1f}s, {peak}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
