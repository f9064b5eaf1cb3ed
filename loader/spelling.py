"""Typos: the word a visitor likely meant, for a word the index does not hold or holds far less than a close one.

The candidates are the words of the sample that `word_rarity` counts (`loader.related`: every
paper of a small database, 5,000 of a large one), read once per database version with the
broad prefixes' counts (`loader.prefixes`). The index itself says whether it holds a typed word,
by bounded reads (0.1 ms each). A word is corrected (`Corrections.correction`) when it is:

- held nowhere, and not an English word (`is_english`: a small corpus lacks many, and "did you
  mean doing" for `dying` helps nobody): the closest sample word within one edit, the commonest
  among equals; an edit is a letter dropped, added or changed, or two neighbours swapped
  (rapidfuzz's optimal string alignment distance); or, for a long word, two sample words run
  together (`pointernetworks`);
- held only by its stem (`distilation` matches `distillation` through FTS5's stemmer, but no
  paper writes it so): the closest sample word, if FTS5 stems it alike (the search finds the same
  papers; the suggestion shows the spelling);
- written in at most `RARE` papers and in no title, while a word one edit away is expected in
  `MORE_COMMON` times as many (`seperation`, misspelt in a few abstracts, for `separation`);
- or, two typed words, written as one by the sample and apart by no paper (`hyper networks` for
  `hypernetworks`), or by at most `RARE` while the one word is `MORE_COMMON` times as common.

Never corrected: words of fewer than `MIN_LETTERS` letters, words with a digit (`UL2`) or with a
capital past the first letter (`CroCo`, `MDETR`), prefixes and quoted phrases, another form of
the same word (`tumors` is not `tumor`), and a word written by more than `RARE` papers or in a
title (`TabPFN`, `Wukong`): a name stays as typed.

What a correction changes: the words meant are searched beside the typed ones
(`loader.search.Term.alternatives`) and rank the papers found (`match_boost`, `title_score`), and
the search page offers the corrected query ("did you mean"). A query with no correction is
searched exactly as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .embed import ModelMissing, model_files
from .limits import as_stored
from .prefixes import Prefixes
from .prefixes import of_database as prefixes_of
from .search import Alternatives, Term, holds, parse

MIN_LETTERS = 5  # shorter words have too many neighbours within an edit (and are often acronyms)
SPLIT_WORD, SPLIT_PART = 10, 4  # a shorter unknown word is more often a compound spelt right than two words run together
ENDINGS = ("s", "es", "ed", "d", "ing", "ly", "er")  # an English word with one of these is one too
RARE = 3  # papers a known word may be in and still be taken for a typo of a much commoner one
MORE_COMMON = 50
KNOWN_LIMIT = RARE + 1  # matches counted to tell a known word from a rare one
SURFACE_CHECK = 20  # papers matching a word's stem read to see whether any writes it as typed


@dataclass(frozen=True)
class Correction:
    typed: str  # as the visitor typed it
    meant: tuple[str, ...]  # the word meant: one word, or two for a word that was two


class Speller:
    """The sample's words by length, and their counts, for finding the word meant."""

    def __init__(self, prefixes: Prefixes) -> None:
        self.counts = prefixes.counts
        self.papers_per_sampled = prefixes.papers_per_sampled
        by_length: dict[int, list[str]] = defaultdict(list)
        for word in self.counts:
            if word.isalpha():
                by_length[len(word)].append(word)
        self.by_length = dict(by_length)

    def closest(self, word: str, edits: int) -> str | None:
        """The commonest sample word within `edits` of `word` (fewest edits first) that is not another
        form of it (`tumor` for `tumors`, `regularized` for `regularizer`), or None."""
        choices = [w for n in range(len(word) - edits, len(word) + edits + 1) for w in self.by_length.get(n, ())]
        found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=edits, limit=None)
        found = [(distance, -self.counts[w], w) for w, distance, _ in found if not _forms_of_one_word(w, word)]
        return min(found)[2] if found else None

    def split(self, word: str) -> tuple[str, str] | None:
        """Two sample words of `SPLIT_PART` letters or more that `word` writes together, the commonest
        pair; None if none, or when `word` is shorter than `SPLIT_WORD` (`codebook`, `midway`)."""
        if len(word) < SPLIT_WORD:
            return None
        pairs = [
            (min(self.counts[word[:i]], self.counts[word[i:]]), word[:i], word[i:])
            for i in range(SPLIT_PART, len(word) - SPLIT_PART + 1)
            if word[:i] in self.counts and word[i:] in self.counts
        ]
        return max(pairs)[1:] if pairs else None

    def expected_papers(self, word: str) -> float:
        return self.counts.get(word, 0) * self.papers_per_sampled


class Corrections:
    """The corrections of one query's words (`of`), for the search functions and the suggestion."""

    def __init__(self, conn: sqlite3.Connection, speller: Speller) -> None:
        self.conn = conn
        self.speller = speller

    def of(self, text: str | None) -> dict[str, Correction]:
        """Lower-cased typed word (or two, space-separated) -> its correction, for the words of `text` that need one."""
        return _corrections(self, text or "")

    def alternatives(self, text: str | None) -> Alternatives:
        """What `loader.search` searches beside each corrected word: the words meant, as one term."""
        return {typed: (c.meant,) for typed, c in self.of(text).items()}

    def meant(self, text: str | None) -> str | None:
        """The query with its corrections in place, or as typed: what ranks the papers found (see `match_boost`)."""
        return self.suggestion(text) or text

    def suggestion(self, text: str | None) -> str | None:
        """The query with every correction in place, or None when none applies ("did you mean")."""
        return _suggestion(self, text or "")

    def suggestion_parts(self, text: str | None) -> list[tuple[str, bool]]:
        """The suggested query as (text, corrected) pieces, for marking the corrected words; [] if none."""
        return _pieces(text or "", self.of(text))

    def respelled(self, text: str | None, title: str | None, abstract: str | None) -> str | None:
        """For a paper found: "<meant> for <typed>" for each searched correction whose word meant it holds
        and whose typed word it does not (so the card says why it was found); None when none."""
        paper = f"{as_stored(title)}\n{as_stored(abstract)}"
        said = [
            f"{' '.join(c.meant)} for {c.typed}"
            for c in self.of(text).values()
            if holds(paper, c.meant) and not holds(paper, tuple(c.typed.split()))
        ]
        return "; ".join(said) or None

    def papers_with(self, expression: str, limit: int) -> int:
        """Papers matching an FTS5 expression, counted up to `limit` (a bounded read)."""
        sql = "select count(*) from (select 1 from papers_fts where papers_fts match ? limit ?)"
        try:
            return self.conn.execute(sql, [expression, limit]).fetchone()[0]
        except sqlite3.OperationalError:  # not a papers database (and an empty sample): nothing corrected
            return 0

    def correction(self, word: str) -> Correction | None:
        """The correction of one typed word (lower-cased), or None."""
        if len(word) < MIN_LETTERS or not word.isalpha() or is_english(word):
            return None
        matches = self.papers_with(f'"{word}"', SURFACE_CHECK)  # by stem: `distilation` finds `distillation`
        if matches and self._written(word, matches):
            return self._rarer(word, matches)
        meant = self.speller.closest(word, 1)
        if matches:  # a misspelling with the stem of a word the index holds: that word, if it is the one
            return Correction(word, (meant,)) if meant and self._same_stem(word, meant) else None
        if meant:
            return Correction(word, (meant,))
        split = self.speller.split(word)
        return Correction(word, split) if split else None

    def _same_stem(self, word: str, other: str) -> bool:
        """True when the index finds the same first papers for both words: FTS5 stems them alike."""
        sql = "select rowid from papers_fts where papers_fts match ? order by rowid limit ?"
        first = [self.conn.execute(sql, [f'"{w}"', SURFACE_CHECK]).fetchall() for w in (word, other)]
        return first[0] == first[1]

    def _written(self, word: str, matches: int) -> bool:
        """True when one of the first papers whose words share `word`'s stem writes it as typed."""
        sql = (
            "select p.title, p.abstract from papers p join "
            "(select rowid from papers_fts where papers_fts match ? limit ?) m on m.rowid = p.id"
        )
        return any(holds(f"{title}\n{abstract}", (word,)) for title, abstract in self.conn.execute(sql, [f'"{word}"', matches]))

    def _rarer(self, word: str, matches: int) -> Correction | None:
        """A word the index holds, in at most `RARE` papers and in no title (where names stand), far rarer
        than a word one edit away (`seperation`, misspelt in a few abstracts): that word; else None."""
        if matches > RARE or self.papers_with(f'title : "{word}"', 1):
            return None
        meant = self.speller.closest(word, 1)
        if meant and self.speller.expected_papers(meant) >= MORE_COMMON * matches:
            return Correction(word, (meant,))
        return None

    def joined(self, first: str, second: str) -> Correction | None:
        """Two typed words that the sample writes as one (`hyper networks`): when no paper writes them
        apart, or at most `RARE` do and the one word is `MORE_COMMON` times as common; else None."""
        together = first + second
        if together not in self.speller.counts:
            return None
        apart = self.papers_with(f'"{first} {second}"', KNOWN_LIMIT)
        if apart > RARE or apart and self.speller.expected_papers(together) < MORE_COMMON * apart:
            return None
        return Correction(f"{first} {second}", (together,))


@lru_cache(maxsize=512)
def _corrections(corrections: Corrections, text: str) -> dict[str, Correction]:
    """Cached per query and connection: every search function of one request asks again."""
    words = [_correctable(term) for term in parse(text)]
    found: dict[str, Correction] = {}
    for first, second in zip(words, words[1:]):
        pair = corrections.joined(first, second) if first and second else None
        if pair:
            found[pair.typed] = pair
    in_pairs = {word for typed in found for word in typed.split()}
    for word in words:
        if word and word not in in_pairs and word not in found:
            correction = corrections.correction(word)
            if correction:
                found[word] = correction
    return found


@lru_cache(maxsize=512)
def _suggestion(corrections: Corrections, text: str) -> str | None:
    """Cached: `match_boost` and `title_score` ask once per candidate paper."""
    parts = _pieces(text, corrections.of(text))
    return " ".join(part for part, _ in parts) if parts else None


def _correctable(term: Term) -> str | None:
    """The lower-cased word of a single word of letters typed unquoted, without a trailing `*`, and
    not with a capital past its first letter (`CroCo`, `MDETR`: a name); else None."""
    word = term.words[0] if len(term.words) == 1 else ""
    if term.phrase or term.prefix or not word.isalpha() or any(letter.isupper() for letter in word[1:]):
        return None
    return word.lower()


def _pieces(text: str, corrections: dict[str, Correction]) -> list[tuple[str, bool]]:
    """`text` split on spaces, each typed word (or two) with a correction replaced by the words meant."""
    pieces, parts, i = text.split(" "), [], 0
    while i < len(pieces):
        pair = f"{pieces[i]} {pieces[i + 1]}".lower() if i + 1 < len(pieces) else None
        if pair in corrections:
            parts.append((" ".join(corrections[pair].meant), True))
            i += 2
            continue
        correction = corrections.get(pieces[i].lower())
        parts.append((" ".join(correction.meant), True) if correction else (pieces[i], False))
        i += 1
    return parts if any(corrected for _, corrected in parts) else []


def _forms_of_one_word(first: str, second: str) -> bool:
    """True when the two words are the same but for one of `ENDINGS` (or none)."""
    return bool(_bases(first) & _bases(second))


def _bases(word: str) -> set[str]:
    """The word, and the word less each of `ENDINGS` it has (and `-er` as `-e`: `solver`, `solve`)."""
    bases = {word} | {word[: -len(end)] for end in ENDINGS if word.endswith(end)}
    return bases | {word[:-1]} if word.endswith("er") else bases


def is_english(word: str) -> bool:
    """True for a word of the English lexicon (`english_words`), or one with a common ending or `un`
    added: a word the index lacks but that is spelt right (`dying`, `catches`, `unlimited`), which a
    small corpus would otherwise "correct" to one it holds (`doing`, `matches`, `limited`)."""
    lexicon = english_words()
    return bool(_bases(word) & lexicon) or word.startswith("un") and word[2:] in lexicon


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The whole words of WordLlama's tokenizer (a LLaMA vocabulary, shipped in the wheel): about 12,700
    common words, each one token; a misspelt word is not one."""
    try:
        vocabulary = json.loads(model_files()[1].read_text(encoding="utf-8"))["model"]["vocab"]
    except (ModelMissing, OSError, ValueError, KeyError):
        return frozenset()
    return frozenset(token[1:].lower() for token in vocabulary if token.startswith("\u2581") and token[1:].isalpha())


@lru_cache(maxsize=8)
def _speller(prefixes: Prefixes) -> Speller:
    return Speller(prefixes)


def of_connection(conn: sqlite3.Connection) -> Corrections:
    """The corrections of queries on `conn`, from its database version's sample (one per connection:
    a database replaced by a build is opened on new connections)."""
    return Corrections(conn, _speller(prefixes_of(conn)))
