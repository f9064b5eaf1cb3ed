"""Typos: the word a visitor likely meant, for a word the index does not hold or holds far less than a close one.

See docs/search.md, section 6, for the rules and what each costs; in short, a typed word is:

- held nowhere (`Corrections.correction`): the words one edit away that the index holds
  (`neighbours`: every string one edit away looked up inside SQLite), the words people write
  first (the `word_rarity` sample, or the English lexicon); past those, the words people write
  two edits away (`two_edits`, found with rapidfuzz); the one the words beside it in the query
  stand with most, and up to `MAX_MEANT` in all searched; or two sample words run together;
- held by its stem only (`distilation`): the spelling the papers of that stem write (`_stem_held`);
- written by at most `RARE` papers, in no title, not English, while a word people write one edit
  away is written by `MORE_COMMON` times as many (`seperation`): that word (`_rarer`);
- two typed words papers write as one and none apart (`hyper networks`): that word (`joined`);
  when papers write both (`auto encoder`, `autoencoder`), the one word is searched too, not offered;
- a British spelling at most `RARE` papers write, the American one far more (`tumour`): that one.

Never corrected: short words, words with a digit or a capital past the first letter (names), words
written by more papers or in a title, another form of the same word, English words.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from .embed import ModelMissing, model_files, package_files
from .limits import as_stored, is_interrupted
from .prefixes import Prefixes
from .prefixes import of_database as prefixes_of
from .search import Alternatives, Term, every_term, holds, parse
from .text import WORD
from .vectors import rows_by_ids

MIN_LETTERS = 5  # shorter words have too many neighbours within an edit (and are often acronyms)
MAX_LETTERS = 30  # longer is no word: and it would have 54 times its length of strings one edit away
SPLIT_WORD, SPLIT_PART = 10, 4  # a shorter unknown word is more often a compound spelt right than two words run together
ENDINGS = ("s", "es", "ed", "d", "ing", "ly", "er")  # an English word with one of these is one too
E_ENDINGS = ("ed", "ing", "er")  # endings that take the place of a final e (`smile`, `smiling`)
RARE = 3  # papers a known word may be in and still be taken for a typo of a much commoner one
MORE_COMMON = 50
KNOWN_LIMIT = RARE + 1  # matches counted to tell a known word from a rare one
SURFACE_CHECK = 20  # first papers of a word's stem: the same for two words when FTS5 stems them alike
COUNT_LIMIT = 1000  # papers counted for a word one edit away
CONTEXT_LIMIT = 100  # papers counted with a word meant and the words beside it in the query
WRITTEN_CHECK = 100  # papers of a stem read to find which of its spellings they write
MAX_MEANT = 4  # words an unknown word may mean, searched together
TWO_EDITS_LETTERS = 7  # shorter words have too many words two edits away (`models`: `nodes`, `moves`)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
DICTIONARY = Path("frequency_dictionary_en_82_765.txt")  # in symspellpy's wheel: "word count" lines
# British spellings and the American ones (`_american`): -ise, -our, -lled, -tre, -yse.
BRITISH = (
    (re.compile(r"is(?=(?:ation|ations|e|es|ed|er|ers|ing)$)"), "iz"),
    (re.compile(r"(?<=...)our(?=(?:s|ed|ing|ite|ites)?$)"), "or"),
    (re.compile(r"(?<=...[aeiou])ll(?=(?:ed|ing|er|ers)$)"), "l"),
    (re.compile(r"(?<=[^aeiou])tre(?=s?$)"), "ter"),
    (re.compile(r"yse(?=[sd]?$)"), "yze"),
)
# The words of a JSON array that the index holds: one bounded lookup each, inside SQLite (about
# 10 us a word; an unknown word of 9 letters has about 500 words one edit away).
HELD_VARIANTS = (
    "select value from json_each(?) where exists "
    "(select 1 from papers_fts where papers_fts match '\"' || value || '\"')"
)


@dataclass(frozen=True)
class Correction:
    typed: str  # as the visitor typed it
    meant: tuple[str, ...]  # the word meant: one word, or two for a word that was two
    others: tuple[str, ...] = ()  # other words it may mean, searched too (the suggestion shows `meant`)
    offered: bool = True  # False for a second spelling papers write too: searched, not "did you mean"


class Speller:
    """The sample's words and their counts: the words people write, and two words run together."""

    def __init__(self, prefixes: Prefixes) -> None:
        self.counts = prefixes.counts
        self.papers_per_sampled = prefixes.papers_per_sampled
        self.by_length: dict[int, list[str]] = defaultdict(list)  # the words people write, by length
        for word in sorted(set(self.counts) | english_words()):
            if word.isalpha():
                self.by_length[len(word)].append(word)

    def within_two_edits(self, word: str) -> list[str]:
        """The words people write (`knows`) two slips from `word` (OSA distance 2), the commonest in the
        sample first: slips that leave letters out or swap them, typists' commonest, and at most one
        changed letter with them. A word two changed letters or an added letter away is more often
        another word spelt right (`lottery` is not `latter`)."""
        near = [
            found
            for length in range(len(word), len(word) + 3)
            for found in process.extract(word, self.by_length.get(length, []), scorer=OSA.distance, score_cutoff=2, limit=None)
        ]
        slips = [w for w, distance, _ in near if distance == 2 and (len(w) > len(word) or sorted(w) == sorted(word))]
        return sorted(slips, key=lambda w: (-self.counts.get(w, 0), w))

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

    def knows(self, word: str) -> bool:
        """True for a word of the sample or of the English lexicon: a word people write."""
        return word in self.counts or word in english_words()

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
        return {typed: (c.meant, *((other,) for other in c.others)) for typed, c in self.of(text).items()}

    def meant(self, text: str | None) -> str | None:
        """The query with its corrections in place, or as typed: what ranks the papers found (see `match_boost`)."""
        return self.suggestion(text) or text

    def suggestion(self, text: str | None) -> str | None:
        """The query with every correction in place, or None when none applies ("did you mean")."""
        return _suggestion(self, text or "")

    def suggestion_parts(self, text: str | None) -> list[tuple[str, bool]]:
        """The suggested query as (text, corrected) pieces, for marking the corrected words; [] if none."""
        return _pieces(text or "", self.offered(text))

    def offered(self, text: str | None) -> dict[str, Correction]:
        """The corrections the suggestion shows: not a second spelling of a word (`auto encoder`)."""
        return {typed: c for typed, c in self.of(text).items() if c.offered}

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

    def held(self, expression: str) -> bool:
        """True when a paper matches the FTS5 expression (the search asks for each term of a query,
        once per search function: cached)."""
        return _matches_any(self, expression)

    def papers_with(self, expression: str, limit: int) -> int:
        """Papers matching an FTS5 expression, counted up to `limit` (a bounded read)."""
        sql = "select count(*) from (select 1 from papers_fts where papers_fts match ? limit ?)"
        return next(iter(self._rows(sql, [expression, limit])), (0,))[0]

    def _rows(self, sql: str, parameters: list) -> list[tuple]:
        """The rows of a lookup in the index; none on a database without one (and an empty sample:
        nothing is corrected). A lookup stopped by the time limit stops the query (`is_interrupted`):
        no correction is made, and cached, from a count cut short."""
        try:
            return self.conn.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:
            if is_interrupted(error):
                raise
            return []

    def correction(self, word: str, context: str = "") -> Correction | None:
        """The correction of one typed word (lower-cased), or None; `context`: the terms beside it in the query
        (an FTS5 expression, '' for none), which choose among several words meant."""
        if not MIN_LETTERS <= len(word) <= MAX_LETTERS or not word.isalpha():
            return None
        matches = self.papers_with(f'"{word}"', SURFACE_CHECK)  # by stem: `distilation` finds `distillation`
        american = self._american_spelling(word, matches)
        if american:
            return american
        if matches:
            return self._stem_held(word, matches)
        if is_english(word):
            return None
        found = self._words_people_write_near(word)
        if found:  # the one most papers write with the words beside it; else (or as many) the commonest
            ranked = sorted(found, key=lambda n: -self._with_context(n[0], context))
            return Correction(word, (ranked[0][0],), tuple(n[0] for n in ranked[1:MAX_MEANT]))
        split = self.speller.split(word)
        return Correction(word, split) if split else None

    def _american_spelling(self, word: str, matches: int) -> Correction | None:
        """A British spelling (`tumour`, `normalisation`) that at most `RARE` papers write, where
        `MORE_COMMON` times as many write the American one (at least one for a word none writes):
        that one, which FTS5 stems apart. The dictionary holds both spellings of many words."""
        american = _american(word)
        if american == word or matches > RARE:
            return None
        enough = max(1, MORE_COMMON * matches)
        return Correction(word, (american,)) if self.papers_with(f'"{american}"', enough) >= enough else None

    def _words_people_write_near(self, word: str) -> list[tuple[str, int]]:
        """The words one edit from `word` that papers write, commonest first: of the sample or the
        lexicon if there are any, else any, however few papers write it (a paper's own rare word:
        `pathology` in 2 papers of a million), where no paper writes one (it only shares a stem:
        `reinforcment` for `reinforcmnet`) spelt as a word people write two edits away that FTS5 stems
        alike (`reinforcement`). When there are none, or they are as rare as a typo (at most `RARE`
        papers: `mulitmodal`), the words people write two edits away, if one is not."""
        one_edit = self.neighbours(word)
        found = [n for n in one_edit if self.speller.knows(n[0])] or one_edit
        if found and found[0][1] > RARE and all(self.speller.knows(n[0]) for n in found):
            return found
        spelt = self.two_edits(word)
        if not found or found[0][1] <= RARE:
            farther = sorted(((near, self.papers_with(f'"{near}"', COUNT_LIMIT)) for near in spelt.values()), key=lambda n: -n[1])
            return farther if farther and farther[0][1] > RARE else found
        return [(self._as_written(near, spelt), papers) for near, papers in found]

    def _as_written(self, word: str, spelt: dict[tuple, str]) -> str:
        """`word`, or the spelling in `spelt` (first papers of a stem -> a word people write) of its
        stem when `word` is no English word (`optimizer` is one, with `optimized` two edits away)
        and none of the stem's first `WRITTEN_CHECK` papers writes it."""
        other = spelt.get(tuple(self._first_papers(word)))
        if other is None or is_english(word) or any(holds(text, (word,)) for text in self._texts_of_stem(word)):
            return word
        return other

    def _stem_held(self, word: str, matches: int) -> Correction | None:
        """A word whose stem the index holds. Written by a paper: corrected only when far rarer than a
        word one edit away (`_rarer`). Written by none of its stem's first papers (`distilation`, which
        FTS5 stems like `distillation`): the spelling they write, for the suggestion (the search finds
        the same papers); else None (`layerwise`, written `layer-wise`)."""
        if word in self.speller.counts:  # written by a paper of the sample: no need to read any
            return self._rarer(word, matches)
        texts = self._texts_of_stem(word)
        if any(holds(text, (word,)) for text in texts):
            return self._rarer(word, matches)
        if is_english(word):
            return None
        own = self._first_papers(word)
        edits = [v for v in _one_edit(word) if not _forms_of_one_word(v, word)]
        same = [v for v in edits if self.speller.knows(v) and self._first_papers(v) == own] or [
            v for v in set(self._held(word)) & set(edits) if self._first_papers(v) == own and any(holds(text, (v,)) for text in texts)
        ]
        return Correction(word, (min(same, key=lambda v: _slip(word, v)),)) if same else None

    def _texts_of_stem(self, word: str) -> list[str]:
        """Title and abstract of the first `WRITTEN_CHECK` papers whose words share `word`'s stem."""
        ids = self._first_papers(word, WRITTEN_CHECK)
        return [f"{t}\n{a}" for t, a in rows_by_ids(self.conn, "select title, abstract from papers where id in ({ids})", ids)]

    def neighbours(self, word: str) -> list[tuple[str, int]]:
        """The words one edit from `word` that papers write, with how many papers (up to `COUNT_LIMIT`),
        commonest first; one word per stem (FTS5 matches the edit `optimer` for `optimizer`: the one a
        paper writes stands for both). Those people write (`knows`) if the index holds any: a stem
        with one of them is meant as it (`_most_written`), so the others need not be looked up, a
        few lookups where all of them cost some 500."""
        return self._neighbours(word, self._held(word, known=True)) or self._neighbours(word, self._held(word))

    def _neighbours(self, word: str, held: list[str]) -> list[tuple[str, int]]:
        by_stem: dict[tuple, list[str]] = defaultdict(list)
        for variant in held:
            if not _forms_of_one_word(variant, word):
                by_stem[tuple(self._first_papers(variant))].append(variant)
        found = []
        for variants in by_stem.values():
            meant = self._most_written(word, variants)
            found.append((meant, self.papers_with(f'"{meant}"', COUNT_LIMIT)))
        # commonest first; among words past the count's bound, a sample or English word first, then the likeliest slip
        return sorted(found, key=lambda n: (-n[1], not self.speller.knows(n[0]), _slip(word, n[0])))

    def two_edits(self, word: str) -> dict[tuple, str]:
        """The words people write two edits from `word` (of `TWO_EDITS_LETTERS` or more) that papers
        write, by their stem's first papers: one word per stem, the sample's commonest."""
        if len(word) < TWO_EDITS_LETTERS:
            return {}
        by_stem: dict[tuple, str] = {}
        for near in self.speller.within_two_edits(word):
            if not _forms_of_one_word(near, word):
                by_stem.setdefault(tuple(self._first_papers(near)), near)
        by_stem.pop((), None)  # held by no paper
        return by_stem

    def _held(self, word: str, known: bool = False) -> list[str]:
        """The strings one edit from `word` that the index matches (by their stems); only the words
        people write (`knows`) if `known`."""
        variants = [v for v in sorted(_one_edit(word)) if not known or self.speller.knows(v)]
        return [variant for (variant,) in self._rows(HELD_VARIANTS, [json.dumps(variants)])] if variants else []

    def _most_written(self, typed: str, variants: list[str]) -> str:
        """Of words one edit from `typed` that FTS5 stems alike, the one meant: a sample word, an English
        word, the one most of the first `WRITTEN_CHECK` papers of that stem write, or else the likeliest
        slip (`_slip`: a letter left out before one swapped, changed or added)."""
        known = [v for v in sorted(variants) if self.speller.knows(v)]
        if known:
            return known[0]
        texts = self._texts_of_stem(variants[0])
        return max(sorted(variants), key=lambda v: (sum(holds(text, (v,)) for text in texts), -_slip(typed, v)))

    def _first_papers(self, word: str, limit: int = SURFACE_CHECK) -> list[int]:
        """The ids of the first papers (by id) whose words share `word`'s stem."""
        sql = "select rowid from papers_fts where papers_fts match ? order by rowid limit ?"
        return [row[0] for row in self.conn.execute(sql, [f'"{word}"', limit])]

    def _with_context(self, word: str, context: str) -> int:
        """Papers with `word` and every other term of the query, up to `CONTEXT_LIMIT` (0 without others)."""
        return self.papers_with(f'"{word}" AND {context}', CONTEXT_LIMIT) if context else 0

    def _rarer(self, word: str, matches: int) -> Correction | None:
        """A word the index holds, in at most `RARE` papers and in no title (where names stand), far rarer
        than a word of the sample or the lexicon one edit away (`seperation`, misspelt in a few abstracts):
        that word; else None. Not an English word (`apple`, `freezing`: rare in a corpus, not misspelt)."""
        if matches > RARE or is_english(word) or self.papers_with(f'title : "{word}"', 1):
            return None
        found = [n for n in self.neighbours(word) if self.speller.knows(n[0])]  # a word people write, not a name
        if found and found[0][1] >= MORE_COMMON * matches:
            return Correction(word, (found[0][0],))
        return None

    def joined(self, first: str, second: str) -> Correction | None:
        """Two typed words that papers write as one (`hyper networks`): when no paper writes them apart,
        or at most `RARE` do and the one word is `MORE_COMMON` times as common in the sample, that word,
        offered. A word the sample lacks counts if the index holds it (at a million papers
        `hypernetworks`). When more write them apart, and more than `RARE` papers write the one word
        people write (`auto encoder`, `autoencoder`): the same word spelt two ways, both searched and
        neither offered. Else None."""
        together, typed = first + second, f"{first} {second}"
        if together not in self.speller.counts and not self.papers_with(f'"{together}"', 1):
            return None
        apart = self.papers_with(f'"{typed}"', KNOWN_LIMIT)
        if apart <= RARE and (not apart or self.speller.expected_papers(together) >= MORE_COMMON * apart):
            return Correction(typed, (together,))
        if self.speller.knows(together) and self.papers_with(f'"{together}"', KNOWN_LIMIT) > RARE:
            return Correction(typed, (together,), offered=False)
        return None


@lru_cache(maxsize=512)
def _corrections(corrections: Corrections, text: str) -> dict[str, Correction]:
    """Cached per query and connection: every search function of one request asks again."""
    terms = parse(text)
    words = [_correctable(term) for term in terms]
    found: dict[str, Correction] = {}
    for first, second in zip(words, words[1:]):
        pair = corrections.joined(first, second) if first and second else None
        if pair:
            found[pair.typed] = pair
    in_pairs = {word for typed in found for word in typed.split()}
    for i, (term, word) in enumerate(zip(terms, words)):
        if word and word not in in_pairs and word not in found:
            correction = corrections.correction(word, _context(terms, i))
            if correction:
                found[word] = correction
        elif len(term.words) > 1:
            compound = _compound_correction(corrections, term, _context(terms, i))
            if compound:
                found[compound.typed] = compound
    return found


@lru_cache(maxsize=4096)
def _matches_any(corrections: Corrections, expression: str) -> bool:
    return corrections.papers_with(expression, 1) > 0


def _context(terms: list[Term], i: int) -> str:
    """The terms beside the `i`th, as an FTS5 expression ('' for none): they choose among words meant."""
    return every_term(terms[max(0, i - 1) : i] + terms[i + 1 : i + 2]) if len(terms) > 1 else ""


def _compound_correction(corrections: Corrections, term: Term, context: str) -> Correction | None:
    """A hyphenated compound with a misspelt part (`pre-trainnig`): the compound with that part corrected,
    keyed by its words (`pre trainnig`, as `loader.search.corrected` looks it up)."""
    if term.phrase or term.prefix:
        return None
    meant, changed = [], False
    for part in term.words:
        word = _correctable(Term((part,)))
        correction = corrections.correction(word, context) if word else None
        meant.extend(correction.meant if correction else (part.lower(),))
        changed = changed or correction is not None
    return Correction(" ".join(term.words).lower(), tuple(meant)) if changed else None


@lru_cache(maxsize=512)
def _suggestion(corrections: Corrections, text: str) -> str | None:
    """Cached: `match_boost` and `title_score` ask once per candidate paper."""
    parts = _pieces(text, corrections.offered(text))
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
        correction = corrections.get(pieces[i].lower()) or corrections.get(" ".join(WORD.findall(pieces[i])).lower())
        parts.append((_respelt(pieces[i], correction), True) if correction else (pieces[i], False))
        i += 1
    return parts if any(corrected for _, corrected in parts) else []


def _respelt(piece: str, correction: Correction) -> str:
    """The typed piece with the words meant: a compound keeps its hyphens (`pre-trainnig` -> `pre-training`)."""
    typed = correction.typed.split()
    if len(typed) < 2 or len(typed) != len(correction.meant):
        return " ".join(correction.meant)
    for wrong, right in zip(typed, correction.meant):
        if wrong != right:
            piece = re.sub(rf"(?<![^\W_]){re.escape(wrong)}(?![^\W_])", right, piece, count=1, flags=re.IGNORECASE)
    return piece


def _one_edit(word: str) -> set[str]:
    """Every string one edit from `word`: a letter dropped, added or changed, or two neighbours swapped."""
    halves = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in halves if b}
        | {a + b[1] + b[0] + b[2:] for a, b in halves if len(b) > 1}
        | {a + c + b[1:] for a, b in halves if b for c in LETTERS}
        | {a + c + b for a, b in halves for c in LETTERS}
    ) - {word}


def _slip(typed: str, meant: str) -> int:
    """How unlikely a slip turns `meant` into `typed`, one edit apart: a letter left out (0), two swapped
    (1), one changed (2), one added (3); typists leave letters out most often."""
    if len(meant) == len(typed) + 1:
        return 0
    if len(meant) < len(typed):
        return 3
    return 1 if OSA.distance(meant, typed) < Levenshtein.distance(meant, typed) else 2


def _forms_of_one_word(first: str, second: str) -> bool:
    """True when the two words are the same but for one of `ENDINGS` (or none)."""
    return bool(_bases(first) & _bases(second))


@lru_cache(maxsize=4096)  # a typed word is compared with each of its hundreds of edits
def _bases(word: str) -> frozenset[str]:
    """The word, and the word less each of `ENDINGS` it has, with the `e` an ending took back in its
    place too (`solver`, `smiling`, `smiled`: `solve`, `smile`)."""
    bases = {word} | {word[: -len(end)] for end in ENDINGS if word.endswith(end)}
    return frozenset(bases | _e_restored(word))


def _e_restored(word: str) -> set[str]:
    """The word with the `e` an ending of `E_ENDINGS` took the place of (`smiling`: `smile`)."""
    return {word[: -len(end)] + "e" for end in E_ENDINGS if word.endswith(end)}


def is_english(word: str) -> bool:
    """True for a word spelt right though the index may lack it, which a corpus would otherwise
    "correct" to one it holds: a word of the lexicon (`english_words`), or one with a common ending
    or `un` added to a lexicon word of four letters or more (`dying`, `catches`, `unlimited`, not
    `doing`, `matches`, `limited`), or an -ing, -ed or -er in place of the `e` of a dictionary word
    (`smiling`; not `taging`: the lexicon's `tage` is a piece of a word); or a word of the
    dictionary (`dictionary_words`: `loudness`, `tampered`, not `cloudness`, `tamipered`). A British
    spelling the papers write the American way is corrected before this is asked
    (`Corrections._american_spelling`)."""
    lexicon, dictionary = english_words(), dictionary_words()
    restored = _e_restored(word)  # checked in the dictionary: the lexicon has `tage`
    bases = {base for base in _bases(word) - restored if base == word or len(base) >= 4}
    return (
        bool(bases & lexicon)
        or bool(restored & dictionary)
        or word.startswith("un") and word[2:] in lexicon
        or word in dictionary
    )


def _american(word: str) -> str:
    """The word spelt the American way if it has a British ending (`normalisation`, `tumour`,
    `labelled`, `centre`, `analyse`); a guess (`surprise`: `surprize`) that the index confirms."""
    for pattern, american in BRITISH:
        word = pattern.sub(american, word)
    return word


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """The 82,765 English words of symspellpy's frequency dictionary (SCOWL's words, with their
    inflections, that Google Books writes; shipped in its wheel; about 8 MB in memory)."""
    try:
        (path,) = package_files("symspellpy", DICTIONARY)
        words = path.read_text(encoding="utf-8").split()[::2]
    except (ModelMissing, OSError, ValueError):
        return frozenset()
    return frozenset(word for word in words if word.isalpha())


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
