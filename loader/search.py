"""The query side of search: anything a visitor types -> safe FTS5 queries; exact phrase checks.

The search box must never answer with an error page, so user input never
reaches MATCH as syntax: words become quoted terms, `"..."` stays a phrase,
a trailing `*` stays a prefix search and `title:`/`abstract:` pick a column.
Everything else (operators, brackets, NUL, `^`) is plain text.

SQL functions that `plugins/search_query.py` registers on every connection:
- `fts_query(q)`: every term required (the first tier of the `search` query);
- `fts_any(q)`: phrases required, any other term enough (the fallback tier);
- `search_note(q)`: what the results page says when a broad prefix was searched as its
  commonest words (both of the above take the stand-ins from `loader.prefixes`);
- `fts_filters(year_from, year_to, has_code, first_year, last_year)`: the
  search filters, to append to either;
- `exact_phrases(q, title, abstract)`: 1 when each quoted phrase of `q` stands
  in the text word for word, since the stemmed index alone would also let
  "masked image modelling" answer "masked image modeling";
- `match_boost(q, title, abstract)`: a multiplier for the best candidates' scores;
- `title_score(q, title)`: what ranks a broad query's sample instead of BM25.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from dataclasses import dataclass, replace
from typing import Callable

from loader.limits import as_stored
from loader.schema import CODE_TOKEN, YEAR_TOKEN
from loader.text import COMPOUND_PREFIXES, STOPWORDS, WORD, joined

MAX_QUERY_CHARS = 1000  # a longer query is cut: nobody types more, and MATCH cost grows with it
MAX_TERMS = 32
COLUMNS = ("title", "abstract")
MATCH_NOTHING = '""'  # an empty phrase: valid FTS5 that matches no row
MAX_FILTER_YEARS = 200  # years a filter names inside MATCH at most
MAX_PREFIXES = 3  # prefix terms searched in one query (see `searched`)
# Words left once one no paper holds is left out, past which it is not (see `known_terms`).
MAX_KNOWN_TERMS = 5

# A broad prefix's stand-ins, or None to search it as typed (`loader.prefixes.Prefixes.expansion`).
Expand = Callable[[str], "tuple[str, ...] | None"]
# The words meant, searched beside typed ones: lower-cased typed word (or two, space-separated) -> the
# words meant (`loader.spelling.Corrections.searched`).
Alternatives = dict[str, tuple[tuple[str, ...], ...]]
Correct = Callable[[str | None], Alternatives]
# Whether any paper matches an FTS5 expression (`loader.spelling.Corrections.held`).
Held = Callable[[str], bool]

_TOKENS = re.compile(r'(?:(\w+):)?"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    phrase: bool = False  # quoted by the visitor: required, and checked exactly
    prefix: bool = False
    column: str | None = None
    alternatives: tuple[tuple[str, ...], ...] = ()  # the words meant, for a typo (see loader/spelling.py)

    def fts(self, expand: Expand | None = None) -> str:
        text = self._searched(self.words, expand)
        if self.alternatives:  # a typo's words meant, searched as the typed words are (`pre-training`)
            text = "(" + " OR ".join([text, *(self._searched(words) for words in self.alternatives)]) + ")"
        return f"{self.column} : {text}" if self.column else text

    def _searched(self, words: tuple[str, ...], expand: Expand | None = None) -> str:
        text = self._with_prefix(words, expand)
        if len(words) > 1 and not self.phrase:  # layer-wise: the phrase or the joined word
            whole = self._with_prefix((joined(" ".join(words)),), expand)
            text = whole if self.indexed_joined(words) else f"({text} OR {whole})"
        return text

    def indexed_joined(self, words: tuple[str, ...]) -> bool:
        """True for a prefix and a word (`pre-training`): the loader indexes every paper that writes them
        with a hyphen or a space under the joined word too (`loader.text.compound_terms`), so the joined
        word alone finds them, without a phrase query over two very common words (140 ms of a query at
        a million papers). Not in one column (`title:`, and a broad query's title candidates): the joined
        words are indexed apart from the title and the abstract."""
        first, second = (word.lower() for word in words) if len(words) == 2 else ("", "")
        return self.column is None and first in COMPOUND_PREFIXES and second not in STOPWORDS

    def _with_prefix(self, words: tuple[str, ...], expand: Expand | None) -> str:
        """The words quoted, a prefix search of the last one if asked for, or (when `expand` finds
        that prefix too broad, see `loader.prefixes`) the last word's commonest completions."""
        instead = expand(words[-1]) if self.prefix and expand is not None else None
        if instead:
            return "(" + " OR ".join(_quoted((*words[:-1], word)) for word in instead) + ")"
        return _quoted(words) + ("*" if self.prefix else "")


def parse(text: str | None) -> list[Term]:
    """The visitor's terms, in order; stop words dropped unless nothing else is left."""
    terms = []
    for column, phrase, token in _TOKENS.findall((text or "")[:MAX_QUERY_CHARS]):
        if token:
            column, _, rest = token.partition(":") if ":" in token else ("", "", token)
            if column.lower() not in COLUMNS:
                column, rest = "", token
            words, prefix, quoted = WORD.findall(rest), rest.endswith("*"), False
        else:
            words, prefix, quoted = WORD.findall(phrase), False, True
        if words:
            terms.append(Term(tuple(words), quoted, prefix, column.lower() if column.lower() in COLUMNS else None))
    meaningful = [t for t in terms if t.phrase or t.prefix or t.column or not _is_stopword(t)]
    return (meaningful or terms)[:MAX_TERMS]


def _is_stopword(term: Term) -> bool:
    return len(term.words) == 1 and term.words[0].lower() in STOPWORDS


def _quoted(words) -> str:
    return '"' + " ".join(words) + '"'


def to_fts_query(
    text: str | None, expand: Expand | None = None, correct: Correct | None = None, held: Held | None = None
) -> str:
    """A valid FTS5 MATCH expression requiring every term of `text` (broad prefixes expanded by `expand`,
    a typo searched with the word meant, from `correct`) that a paper holds (`known_terms`)."""
    return every_term(known_terms(corrected(text, correct), expand, held), expand)


def to_fts_any(text: str | None, expand: Expand | None = None, correct: Correct | None = None) -> str:
    """A valid FTS5 MATCH expression requiring the phrases of `text` and any one of its other terms."""
    return any_term(corrected(text, correct), expand)


def corrected(text: str | None, correct: Correct | None) -> list[Term]:
    """The terms of `text`, each typo with the words meant as alternatives; two typed words meant as
    one (`hyper networks`) each take that word."""
    terms = parse(text)
    alternatives = correct(text) if correct is not None else {}
    if not alternatives:
        return terms
    words = [" ".join(term.words).lower() for term in terms]  # a compound's words too (`pre trainnig`)
    meant: dict[int, tuple[tuple[str, ...], ...]] = {}
    for i, word in enumerate(words):
        if word in alternatives:
            meant[i] = alternatives[word]
        if i + 1 < len(words) and f"{word} {words[i + 1]}" in alternatives:
            meant[i] = meant[i + 1] = alternatives[f"{word} {words[i + 1]}"]
    return [replace(term, alternatives=meant[i]) if i in meant else term for i, term in enumerate(terms)]


def known_terms(terms: list[Term], expand: Expand | None, held: Held | None) -> list[Term]:
    """The terms less the one unquoted term no paper holds (`held`), when one is and one to
    `MAX_KNOWN_TERMS` others are left: a word in no paper (a typo left as typed, `smal`; a name the
    corpus lacks) would leave no paper with every word, and the some-words tier, among thousands of
    papers with one of the others, ranks a sample. The papers with all the others are what the
    visitor wants; the page says which word was left out (`search_note`). Two words in no paper, or
    more words left than that, are another query or a description (whose AND of common words costs
    up to 250 ms at a million papers and finds none): searched as typed. A quoted phrase is
    required, held or not; a prefix is kept unasked (asking costs FTS5 the merge of every posting
    list of its words, what searching it costs)."""
    if held is None:
        return terms
    kept = [term for term in terms if term.phrase or term.prefix or held(term.fts(expand))]
    return kept if len(kept) == len(terms) - 1 and 0 < len(kept) <= MAX_KNOWN_TERMS else terms


def words_left_out(
    text: str | None, expand: Expand | None = None, correct: Correct | None = None, held: Held | None = None
) -> list[str]:
    """The words of `text` that "every word" leaves out (`known_terms`): for the page's note, and for
    the fusion with meaning, which then does not take the word ranking as the visitor naming a paper."""
    terms = corrected(text, correct)
    kept = known_terms(terms, expand, held)
    return list(dict.fromkeys(" ".join(term.words) for term in terms if term not in kept))


def every_term(terms: list[Term], expand: Expand | None = None) -> str:
    return " AND ".join(term.fts(expand) for term in searched(terms, expand)) or MATCH_NOTHING


def any_term(terms: list[Term], expand: Expand | None = None) -> str:
    kept = searched(terms, expand)
    required = [term.fts(expand) for term in kept if term.phrase]
    optional = [term.fts(expand) for term in kept if not term.phrase]
    if optional:
        required.append("(" + " OR ".join(optional) + ")")
    return " AND ".join(required) or MATCH_NOTHING


def fts_terms(text: str | None, expand: Expand | None = None, correct: Correct | None = None) -> str:
    """The terms the some-words tier may choose from, as a JSON array of FTS5 expressions (phrases aside)."""
    terms = searched(corrected(text, correct), expand)
    return json.dumps(list(dict.fromkeys(term.fts(expand) for term in terms if not term.phrase)))


def fts_title(
    text: str | None, expand: Expand | None = None, correct: Correct | None = None, held: Held | None = None
) -> str:
    """Every term of `text` required in the title, as in `to_fts_query`: a broad query's best candidates.

    They are matched in the titles' own index (`papers_title_fts`), which has no
    abstracts: a query that asks for a word in the abstract has none.
    """
    terms = searched(known_terms(corrected(text, correct), expand, held), expand)
    if any(term.column == "abstract" for term in terms):
        return MATCH_NOTHING
    return " AND ".join(replace(term, column="title").fts(expand) for term in terms) or MATCH_NOTHING


def fts_required(text: str | None, expand: Expand | None = None) -> str:
    """The quoted phrases of `text`, each required, with a trailing AND to prefix a group of terms ('' without phrases)."""
    return "".join(f"{term.fts(expand)} AND " for term in searched(parse(text), expand) if term.phrase)


def searched(terms: list[Term], expand: Expand | None) -> list[Term]:
    """The terms searched: a prefix past the first `MAX_PREFIXES` is left out.

    Each prefix is a merge of posting lists (or, when broad, a group of common
    words) to intersect with the others: three cost 27 ms at a million papers,
    twenty-six more than the time limit (and 260 ms on a thousand papers).
    """
    return [term for term, _, kept in _with_stand_ins(terms, expand) if kept]


def _with_stand_ins(terms: list[Term], expand: Expand | None) -> list[tuple[Term, tuple[str, ...] | None, bool]]:
    """Each term, the words searched for it if it is a broad prefix, and whether it is searched at all."""
    result, prefixes = [], 0
    for term in terms:
        instead = expand(term.words[-1]) if term.prefix and expand is not None else None
        prefixes += term.prefix
        result.append((term, instead, not term.prefix or prefixes <= MAX_PREFIXES))
    return result


def search_note(
    text: str | None, expand: Expand | None = None, correct: Correct | None = None, held: Held | None = None
) -> str | None:
    """What the results page says of a query searched otherwise than typed: words no paper holds left
    out (`known_terms`), broad prefixes' stand-ins, prefixes left out."""
    notes = {}  # a prefix typed twice is said once
    for word in words_left_out(text, expand, correct, held):
        notes[f"No paper holds {word}: searched for the papers with every other word first"] = None
    for term, instead, kept in _with_stand_ins(parse(text), expand):
        prefix = term.words[-1]
        if not kept:
            notes[f"{prefix}* left out: more than {MAX_PREFIXES} prefixes in one search"] = None
        elif instead:
            notes[f"{prefix}* stands for too many words to search them all: searched {', '.join(instead)}"] = None
    return "; ".join(notes) + "." if notes else None


def filters(year_from: int | None, year_to: int | None, has_code: int, first_year: int | None, last_year: int | None) -> str:
    """The search filters as an FTS5 expression to AND with the query: '' when there are none.

    Inside MATCH, FTS5 skips to the papers that pass, as it does for a rare word.
    A condition beside MATCH was tested row by row instead, until a thousand
    passed: at a million papers, `model` published in 2011 read 750,000 rows
    (1.5 s, and past Datasette's time limit). The years are those from
    `year_from` to `year_to` that the papers hold, between `first_year` and
    `last_year` (None: no bound, or no paper with a year). More than
    `MAX_FILTER_YEARS` of them (a database whose dates span centuries) are
    left to the test on each row.
    """
    parts = []
    if year_from is not None or year_to is not None:
        years: range = range(0)  # no paper has a year: none passes
        if first_year is not None and last_year is not None:
            low = first_year if year_from is None else max(year_from, first_year)
            high = last_year if year_to is None else min(year_to, last_year)
            years = range(low, high + 1)
        if not years:
            parts.append(MATCH_NOTHING)
        elif len(years) <= MAX_FILTER_YEARS:
            parts.append(f"search_filters : ({' OR '.join(f'{YEAR_TOKEN}{year}' for year in years)})")
    if has_code:
        parts.append(f"search_filters : {CODE_TOKEN}")
    return "".join(f" AND {part}" for part in parts)


def exact_phrases(text: str | None, title: str | None, abstract: str | None) -> int:
    """1 when every quoted phrase of `text` occurs in title or abstract with the same words in order.

    Called on every candidate of a phrase query: up to the 1,000 stem matches of the
    search query's phrase window, whatever the size of the database. A phrase standing
    in the text as typed (single spaces, lower case, as most do) accepts the row without
    lower-casing the text (`_stands_alone`); only the other rows pay for the
    lower-casing and the pattern of `_found`.
    """
    if not text or '"' not in text:
        return 1
    haystack = f"{as_stored(title)}\n{as_stored(abstract)}"
    lowered = None
    for words, typed in _phrases(text):
        if _stands_alone(typed, haystack):
            continue
        if lowered is None:
            lowered = haystack.lower()
        if not _found(words, lowered):
            return 0
    return 1


# SQLite calls exact_phrases and match_boost once per candidate row with the same query
# text: the query is parsed once and the result reused for every row.
@lru_cache(maxsize=256)
def _phrases(text: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """Each quoted phrase: its lower-cased words, and the words joined by single spaces."""
    phrases = []
    for term in parse(text):
        if term.phrase:
            words = tuple(w.lower() for w in term.words)
            phrases.append((words, " ".join(words)))
    return tuple(phrases)


# The scans below look at occurrences one by one (`str.find`, or a pattern with a literal
# start), which is fastest for real text, where the first occurrence or two decide. Text with
# more occurrences than this that do not decide ("xa xa xa ..." for a search of `a`, built to
# be slow) is looked up in its spaced form instead (`_spaced`), in one pass in C, with the same answer.
ONE_BY_ONE = 16
_NOT_ALNUM = re.compile(r"[\W_]+")


@lru_cache(maxsize=8)
def _spaced(text: str) -> str:
    """`text` with each run of non-alphanumerics made one space, and a space at each end.

    Alphanumeric words stand in `text` one after the other with only
    non-alphanumerics between and around them exactly when, joined by single
    spaces, they stand between two spaces here. Cached: one call of a search
    function looks up several words in the same text.
    """
    return f" {_NOT_ALNUM.sub(' ', text)} "


def _stands_alone(typed: str, text: str) -> bool:
    """True when the lower-cased `typed` stands in `text` between non-alphanumerics.

    Then `_found` finds it in the lower-cased text too: lower-casing leaves the
    characters of a lower-cased word as they are, and turns no character that is not
    alphanumeric into one that is. `str.find` skips through an abstract several times
    faster than `re`. A shortcut only: after `ONE_BY_ONE` occurrences that do not stand alone it
    answers False, and `_found` decides.
    """
    at = text.find(typed)
    for _ in range(ONE_BY_ONE):
        if at == -1:
            return False
        end = at + len(typed)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        at = text.find(typed, at + 1)
    return False


@lru_cache(maxsize=256)
def _boost_words(text: str | None) -> tuple[str, ...]:
    """The query words judged by match_boost: lower-cased, no prefixes, no stop words; at most `MAX_TERMS`
    (a phrase may hold hundreds of words, and each word costs three scans of the text)."""
    return tuple(
        w.lower() for term in parse(text) if not term.prefix for w in term.words if w.lower() not in STOPWORDS
    )[:MAX_TERMS]


def match_boost(text: str | None, title: str | None, abstract: str | None) -> float:
    """A multiplier >= 1 for a candidate's BM25 score, from what BM25 over stems cannot see.

    - exact: the share of query words present in their exact form, not only
      as a stem (`apple` the owner, not `apples`);
    - together: the share of neighbouring query words that stand next to
      each other in the text (`1.3 million`, `transfer learning`);
    - in title: the share of neighbouring query words together in the title.
    Two neighbouring words written as one (`semi supervised` in `Semisupervised`, not `1.3` in `13`)
    are together, and exact.
    Applied to the best candidates only, so its cost does not grow with the corpus.
    """
    words = _boost_words(text)
    if not words:
        return 1.0
    title = as_stored(title).lower()
    body = f"{title}\n{as_stored(abstract).lower()}"
    pairs = list(zip(words, words[1:]))
    one_word = {pair for pair in pairs if _as_one_word(pair, body)}
    in_one_word = {word for pair in one_word for word in pair}
    exact = sum(word in in_one_word or _found((word,), body) for word in words) / len(words)
    together = sum(pair in one_word or _found(pair, body) for pair in pairs) / len(pairs) if pairs else exact
    in_title = sum(_together(pair, title) for pair in pairs) / len(pairs) if pairs else 0.0
    return 1.0 + 0.5 * exact + 0.5 * together + 0.5 * in_title


def _together(pair: tuple[str, str], text: str) -> bool:
    """True when the two words stand next to each other in `text`, or written as one."""
    return _found(pair, text) or _as_one_word(pair, text)


def _as_one_word(pair: tuple[str, str], text: str) -> bool:
    """True when two words of letters stand in `text` written as one (`layerwise`); numbers are not joined."""
    return pair[0].isalpha() and pair[1].isalpha() and _found((pair[0] + pair[1],), text)


def title_score(text: str | None, title: str | None) -> float:
    """What ranks a broad query's sample instead of BM25: -(1 + query terms found in the title).

    Negative like FTS5's bm25() (lower is better). A term is found when every
    one of its words starts a title word, or its stem does (the word less up to
    three letters, at least four kept) so `optimized` finds `Optimizing`; a
    prefix term's words must start a title word as typed. A compound is found
    written in one word too (`semi-supervised` in `Semisupervised Parsing`).
    """
    lowered = as_stored(title).lower()
    found = 0
    for spellings in _title_stems(text):  # plain loops: generators cost more than the search on a thousand titles
        for stems in spellings:
            for stem in stems:
                if not _starts_word(stem, lowered):
                    break
            else:
                found += 1
                break
    return -1.0 - found


@lru_cache(maxsize=256)
def _title_stems(text: str | None) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Each term's spellings as stems, lower-cased: its words, and a compound's joined word.

    A spelling with a stem that is not all alphanumeric (`İ` lower-cases to `i`
    and a combining dot) can start no title word, so it is left out, and so is a
    term with no spelling left.
    """
    terms = []
    for term in parse(text):
        if _is_stopword(term):
            continue
        spellings = [term.words]
        if len(term.words) > 1 and not term.phrase:
            spellings.append((joined(" ".join(term.words)),))
        stems = (tuple(w.lower() if term.prefix else w.lower()[: max(4, len(w) - 3)] for w in words) for words in spellings)
        kept = tuple(spelling for spelling in stems if all(stem.isalnum() for stem in spelling))
        if kept:
            terms.append(kept)
    return tuple(terms)


def _starts_word(stem: str, text: str) -> bool:
    """True when the alphanumeric `stem` starts a word of `text`, a run of alphanumerics.

    Called on a thousand titles a query: `str.find` and a look at the character
    before cost a fraction of splitting the title into words (4 us a title).
    """
    at = text.find(stem)
    for _ in range(ONE_BY_ONE):
        if at == -1:
            return False
        if at == 0 or not text[at - 1].isalnum():
            return True
        at = text.find(stem, at + 1)
    return at != -1 and _spaced(text).find(" " + stem) != -1  # the stem is alphanumeric (`_title_stems`)


def holds(text: str | None, words: tuple[str, ...]) -> bool:
    """True when the words stand in `text`, in any case, one after the other as whole words."""
    return _found(tuple(word.lower() for word in words), as_stored(text).lower())


def _found(words: tuple[str, ...], text: str) -> bool:
    """True when the lower-cased words stand in the lower-cased text as whole words, in order,
    with only spaces or punctuation between them.

    The pattern (`_sequence_pattern`) starts with a literal, so `re` skips ahead to
    it; the check that the match starts a word is made here (a look-behind in front
    would make `re` try every position, which over a thousand abstracts per query
    was most of its cost).
    """
    pattern = _sequence_pattern(words)
    at = 0
    for _ in range(ONE_BY_ONE):
        match = pattern.search(text, at)
        if match is None:
            return False
        start = match.start()
        if start == 0 or not text[start - 1].isalnum():
            return True
        at = start + 1
    if all(word.isalnum() for word in words):
        return _spaced(text).find(f" {' '.join(words)} ") != -1
    return _at_word_start(words).search(text, at) is not None  # a word lower-cased into non-alphanumerics (İ)


@lru_cache(maxsize=1024)
def _sequence_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])")


@lru_cache(maxsize=256)
def _at_word_start(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![^\W_])" + _sequence_pattern(words).pattern)
