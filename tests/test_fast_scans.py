"""The fast text scans find exactly what the plain whole-text definitions find.

`compound_terms` and `find_links` only run their patterns over the tokens that
can match, `exact_phrases` accepts a phrase found as typed without lower-casing
the text, `title_score` looks for stems with `str.find` instead of splitting the
title (see their docstrings). The straightforward definitions are written here
once more, as the oracle, and Hypothesis looks for text where the two differ.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from loader.links import URL_RE, _trim, classify, find_links
from loader.parser import MAX_LINE_CHARS
from loader.search import ONE_BY_ONE, exact_phrases, match_boost, parse, title_score
from loader.text import COMPOUND_PREFIXES, STOPWORDS, WORD, compound_terms, joined

WHOLE_TEXT_HYPHENATED = re.compile(r"(?<![^\W_])[^\W_]+(?:[-\u2010\u2011][^\W_]+)+")
WHOLE_TEXT_PAIR = re.compile(r"(?<![^\W_])(" + "|".join(sorted(COMPOUND_PREFIXES)) + r")\s+(?=([^\W_]+))")


def compounds_by_whole_text_regex(text: str) -> list[str]:
    found = {joined(match.group(0)): None for match in WHOLE_TEXT_HYPHENATED.finditer(text)}
    for first, second in WHOLE_TEXT_PAIR.findall(text.lower()):
        if second not in STOPWORDS:
            found[first + second] = None
    return list(found)


def links_by_whole_text_regex(text: str) -> list:
    links, seen = [], set()
    for match in URL_RE.finditer(text):
        link = classify(_trim(match.group(0)))
        if link is not None and link.url not in seen:
            seen.add(link.url)
            links.append(link)
    return links


# Text made of the pieces that matter: prefixes, hyphens of three kinds, whitespace of several
# kinds, punctuation, underscores, letters whose case changes length, URL fragments.
PIECE_LIST = (
    sorted(COMPOUND_PREFIXES)
    + ["-", "\u2010", "\u2011", " ", "  ", "\n", "\t", "\x0c", "\x1f", "\u00a0", "(", ")", ",", ".", "_", "/", "@"]
    + ["~", ";", ":", "training", "Supervised", "the", "of", "x", "42", "İ", "ß", "é", "Ω"]
    + ["https://", "http;//", "github.com/", "www.", "GitHub.com/", "owner/repo", ".git", "gitlab.com/a/b"]
    + ["huggingface.co/", "me.github.io", "arxiv.org/abs/1", "example.org", "<", ">", "'", "\""]
)
PIECES = st.sampled_from(PIECE_LIST)
# ASCII text whose only blanks are spaces is scanned as it is, any other after `str.split`.
ASCII_PIECES = st.sampled_from([piece for piece in PIECE_LIST if piece.isascii()])
TEXT = st.lists(PIECES, max_size=40).map("".join) | st.lists(ASCII_PIECES, max_size=40).map("".join) | st.text(max_size=80)


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_compound_terms_match_the_whole_text_definition(text):
    assert compound_terms(text) == compounds_by_whole_text_regex(text)


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_find_links_matches_the_whole_text_definition(text):
    assert find_links(text) == links_by_whole_text_regex(text)


def phrases_by_whole_text_regex(query: str | None, title: str | None, abstract: str | None) -> int:
    """Every quoted phrase's lower-cased words, as whole words with only non-alphanumerics between them."""
    if not query or '"' not in query:
        return 1
    text = f"{title or ''}\n{abstract or ''}".lower()
    patterns = [
        r"(?<![^\W_])" + r"[\W_]+".join(re.escape(w.lower()) for w in term.words) + r"(?![^\W_])"
        for term in parse(query)
        if term.phrase
    ]
    return int(all(re.search(pattern, text) for pattern in patterns))


def title_score_by_splitting(query: str | None, title: str | None) -> float:
    """-(1 + the terms whose every stem starts one of the title's words, or, for a compound, whose
    words written together do)."""
    words = WORD.findall((title or "").lower())

    def stem(word: str, prefix: bool) -> str:
        return word.lower() if prefix else word.lower()[: max(4, len(word) - 3)]

    def starts_a_word(stems: list[str]) -> bool:
        return all(any(word.startswith(s) for word in words) for s in stems)

    found = 0
    for t in parse(query):
        if len(t.words) == 1 and t.words[0].lower() in STOPWORDS:
            continue
        spellings = [[stem(w, t.prefix) for w in t.words]]
        if len(t.words) > 1 and not t.phrase:
            spellings.append([stem("".join(t.words), t.prefix)])
        found += any(starts_a_word(s) for s in spellings)
    return -1.0 - found


# Words whose stem or spelling differ a little, in any case, and characters whose lower case is
# two characters (İ), is ASCII (the Kelvin sign) or depends on the letters around it (Σ).
WORDS = ["training", "trained", "datasets", "dataset", "data", "sets", "model", "models", "kernel", "i", "x1"]
WORDS += ["ß", "ss", "σ", "Σ", "İ", "İx", "\u212aernel", "straße", "é", "e\u0301", "ωmega", "2"]
CASED_WORD = st.tuples(st.sampled_from(WORDS), st.sampled_from([str, str.upper, str.title, str.swapcase])).map(
    lambda pair: pair[1](pair[0])
)
# What stands between words: nothing, spaces, punctuation, a combining dot, a prefix.
BETWEEN = ["", " ", "  ", "-", "_", ", ", "\n", "\u00a0", "(", ")", "\u0307", ".", "pre", "*", ":", '"']
PROSE = st.lists(CASED_WORD | st.sampled_from(BETWEEN), max_size=30).map("".join) | st.text(max_size=60)
# The same, repeated: a word inside other words more often than the scans look one by one (ONE_BY_ONE).
PROSE |= st.tuples(PROSE, st.integers(min_value=2, max_value=40)).map(lambda pair: pair[0] * pair[1])
PHRASE = st.lists(CASED_WORD, min_size=1, max_size=3).map(lambda words: '"' + " ".join(words) + '"')
QUERY = st.lists(PHRASE | CASED_WORD | st.sampled_from(["the", "title:", "data*", "pre-training"]), max_size=4).map(
    " ".join
) | st.text(max_size=30)


@settings(max_examples=3000, deadline=None)
@given(QUERY, PROSE | st.none(), PROSE | st.none())
def test_exact_phrases_match_the_whole_text_definition(query, title, abstract):
    assert exact_phrases(query, title, abstract) == phrases_by_whole_text_regex(query, title, abstract)


@settings(max_examples=3000, deadline=None)
@given(QUERY, PROSE | st.none())
def test_title_score_matches_the_split_definition(query, title):
    assert title_score(query, title) == title_score_by_splitting(query, title)


def test_scans_past_the_occurrences_looked_at_one_by_one_find_what_follows():
    """Past ONE_BY_ONE occurrences inside other words, the scans still find a whole word (by hand)."""
    assert ONE_BY_ONE < 100
    assert title_score("alpha", "xalpha-ybeta " * 100) == -1.0  # the stem `alph` never starts a word
    assert title_score("alpha", "xalpha-ybeta " * 100 + "Alphabets") == -2.0
    crowd = "xa-yb " * 100  # `a` and `b` a hundred times each, never at the start of a word
    assert exact_phrases('"a b"', None, crowd) == 0
    assert exact_phrases('"a b"', None, crowd + "(A, B)") == 1
    assert exact_phrases('"a b"', None, crowd + "a bc") == 0
    assert match_boost("alpha beta", None, "xalpha " * 100) == 1.0
    assert match_boost("alpha beta", None, "xalpha " * 100 + "alpha-beta") == 2.0  # 1 + exact 0.5 + together 0.5 + title 0


def test_the_functions_read_no_further_than_the_longest_stored_text():
    """The SQL box can pass a megabyte; the loader stores at most MAX_LINE_CHARS a field."""
    beyond = "x " * (MAX_LINE_CHARS // 2) + "probing"
    assert exact_phrases('"probing"', None, beyond) == 0
    assert exact_phrases('"probing"', None, beyond[-20:]) == 1
    assert title_score("probing", beyond) == -1.0
    assert match_boost("probing", None, beyond) == 1.0
