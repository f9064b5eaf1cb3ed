"""The query side of search: anything a visitor types -> safe FTS5 queries; exact phrase checks.

The search box must never answer with an error page, so user input never
reaches MATCH as syntax: words become quoted terms, `"..."` stays a phrase,
a trailing `*` stays a prefix search and `title:`/`abstract:` pick a column.
Everything else (operators, brackets, NUL, `^`) is plain text.

SQL functions that `plugins/search_query.py` registers on every connection:
- `fts_query(q)`: every term required (the first tier of the `search` query);
- `fts_any(q)`: phrases required, any other term enough (the fallback tier);
- `fts_filters(year_from, year_to, has_code, first_year, last_year)`: the
  search filters, to append to either;
- `exact_phrases(q, title, abstract)`: 1 when each quoted phrase of `q` stands
  in the text word for word, since the stemmed index alone would also let
  "masked image modelling" answer "masked image modeling";
- `match_boost(q, title, abstract)`: a multiplier for the best candidates' scores;
- `title_score(q, title)`: what ranks a broad query's sample instead of BM25.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass

from loader.schema import CODE_TOKEN, YEAR_TOKEN
from loader.text import STOPWORDS, WORD, joined

MAX_QUERY_CHARS = 1000  # a longer query is cut: nobody types more, and MATCH cost grows with it
MAX_TERMS = 32
COLUMNS = ("title", "abstract")
MATCH_NOTHING = '""'  # an empty phrase: valid FTS5 that matches no row
MAX_FILTER_YEARS = 200  # years a filter names inside MATCH at most

_TOKENS = re.compile(r'(?:(\w+):)?"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    phrase: bool = False  # quoted by the visitor: required, and checked exactly
    prefix: bool = False
    column: str | None = None

    def fts(self) -> str:
        star = "*" if self.prefix else ""
        text = _quoted(self.words) + star
        if len(self.words) > 1 and not self.phrase:  # pre-training: the phrase or the joined word
            text = f"({text} OR {_quoted([joined(' '.join(self.words))])}{star})"
        return f"{self.column} : {text}" if self.column else text


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


def to_fts_query(text: str | None) -> str:
    """A valid FTS5 MATCH expression requiring every term of `text`."""
    return every_term(parse(text))


def to_fts_any(text: str | None) -> str:
    """A valid FTS5 MATCH expression requiring the phrases of `text` and any one of its other terms."""
    return any_term(parse(text))


def every_term(terms: list[Term]) -> str:
    return " AND ".join(term.fts() for term in terms) or MATCH_NOTHING


def any_term(terms: list[Term]) -> str:
    required = [term.fts() for term in terms if term.phrase]
    optional = [term.fts() for term in terms if not term.phrase]
    if optional:
        required.append("(" + " OR ".join(optional) + ")")
    return " AND ".join(required) or MATCH_NOTHING


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
    haystack = f"{title or ''}\n{abstract or ''}"
    lowered = None
    for pattern, typed in _phrases(text):
        if _stands_alone(typed, haystack):
            continue
        if lowered is None:
            lowered = haystack.lower()
        if not _found(pattern, lowered):
            return 0
    return 1


# SQLite calls exact_phrases and match_boost once per candidate row with the same query
# text: the query is parsed once and the result reused for every row.
@lru_cache(maxsize=256)
def _phrases(text: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each quoted phrase: the pattern of its lower-cased words, and the words joined by single spaces."""
    phrases = []
    for term in parse(text):
        if term.phrase:
            words = tuple(w.lower() for w in term.words)
            phrases.append((_sequence_pattern(words), " ".join(words)))
    return tuple(phrases)


def _stands_alone(typed: str, text: str) -> bool:
    """True when the lower-cased `typed` stands in `text` between non-alphanumerics.

    Then `_found` finds it in the lower-cased text too: lower-casing leaves the
    characters of a lower-cased word as they are, and turns no character that is not
    alphanumeric into one that is. `str.find` skips through an abstract several times
    faster than `re`.
    """
    at = text.find(typed)
    while at != -1:
        end = at + len(typed)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        at = text.find(typed, at + 1)
    return False


@lru_cache(maxsize=256)
def _boost_words(text: str | None) -> tuple[str, ...]:
    """The query words judged by match_boost: lower-cased, no prefixes, no stop words."""
    return tuple(
        w.lower() for term in parse(text) if not term.prefix for w in term.words if w.lower() not in STOPWORDS
    )


def match_boost(text: str | None, title: str | None, abstract: str | None) -> float:
    """A multiplier >= 1 for a candidate's BM25 score, from what BM25 over stems cannot see.

    - exact: the share of query words present in their exact form, not only
      as a stem (`apple` the owner, not `apples`);
    - together: the share of neighbouring query words that stand next to
      each other in the text (`1.3 million`, `transfer learning`);
    - in title: the share of neighbouring query words together in the title.
    Applied to the best candidates only, so its cost does not grow with the corpus.
    """
    words = _boost_words(text)
    if not words:
        return 1.0
    title = (title or "").lower()
    body = f"{title}\n{(abstract or '').lower()}"
    exact = sum(_occurs((w,), body) for w in words) / len(words)
    pairs = list(zip(words, words[1:]))
    together = sum(_occurs(pair, body) for pair in pairs) / len(pairs) if pairs else exact
    in_title = sum(_occurs(pair, title) for pair in pairs) / len(pairs) if pairs else 0.0
    return 1.0 + 0.5 * exact + 0.5 * together + 0.5 * in_title


def title_score(text: str | None, title: str | None) -> float:
    """What ranks a broad query's sample instead of BM25: -(1 + query terms found in the title).

    Negative like FTS5's bm25() (lower is better). A term is found when every
    one of its words starts a title word, or its stem does (the word less up to
    three letters, at least four kept) so `optimized` finds `Optimizing`; a
    prefix term's words must start a title word as typed.
    """
    lowered = (title or "").lower()
    found = 0
    for term in _title_stems(text):  # a plain loop: generators cost more than the search on a thousand titles
        for stem in term:
            if not _starts_word(stem, lowered):
                break
        else:
            found += 1
    return -1.0 - found


@lru_cache(maxsize=256)
def _title_stems(text: str | None) -> tuple[tuple[str, ...], ...]:
    """Each term's stems, lower-cased. A term with a stem that is not all alphanumeric
    (`İ` lower-cases to `i` and a combining dot) can start no title word, so it is left out."""
    stems = (
        tuple(w.lower() if term.prefix else w.lower()[: max(4, len(w) - 3)] for w in term.words)
        for term in parse(text)
        if not _is_stopword(term)
    )
    return tuple(term for term in stems if all(stem.isalnum() for stem in term))


def _starts_word(stem: str, text: str) -> bool:
    """True when the alphanumeric `stem` starts a word of `text`, a run of alphanumerics.

    Called on a thousand titles a query: `str.find` and a look at the character
    before cost a fraction of splitting the title into words (4 us a title).
    """
    at = text.find(stem)
    while at != -1:
        if at == 0 or not text[at - 1].isalnum():
            return True
        at = text.find(stem, at + 1)
    return False


def _occurs(words: tuple[str, ...], text: str) -> bool:
    """True when the lower-cased words stand in the lower-cased text as whole words, in order,
    with only spaces or punctuation between them."""
    return _found(_sequence_pattern(words), text)


def _found(pattern: re.Pattern[str], text: str) -> bool:
    """True when `pattern` (see `_sequence_pattern`) matches where a word starts.

    The pattern starts with a literal, so `re` skips ahead to it; the check that
    the match starts a word is made here (a look-behind in front would make `re`
    try every position, which over a thousand abstracts per query was most of its cost).
    """
    at = 0
    while (match := pattern.search(text, at)) is not None:
        start = match.start()
        if start == 0 or not text[start - 1].isalnum():
            return True
        at = start + 1
    return False


@lru_cache(maxsize=1024)
def _sequence_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])")
