"""The loader's fast text scans find exactly what the plain whole-text regular expressions find.

`compound_terms` and `find_links` only run their patterns over the tokens that
can match (see their docstrings). The straightforward definitions are written
here once more, as the oracle, and Hypothesis looks for text where the two differ.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from loader.links import URL_RE, _trim, classify, find_links
from loader.text import COMPOUND_PREFIXES, STOPWORDS, compound_terms, joined

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
PIECES = st.sampled_from(
    sorted(COMPOUND_PREFIXES)
    + ["-", "\u2010", "\u2011", " ", "  ", "\n", "\t", "\u00a0", "(", ")", ",", ".", "_", "/", "@", "~", ";", ":"]
    + ["training", "Supervised", "the", "of", "x", "42", "İ", "ß", "é", "Ω"]
    + ["https://", "http;//", "github.com/", "www.", "GitHub.com/", "owner/repo", ".git", "gitlab.com/a/b"]
    + ["huggingface.co/", "me.github.io", "arxiv.org/abs/1", "example.org", "<", ">", "'", "\""]
)
TEXT = st.lists(PIECES, max_size=40).map("".join) | st.text(max_size=80)


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_compound_terms_match_the_whole_text_definition(text):
    assert compound_terms(text) == compounds_by_whole_text_regex(text)


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_find_links_matches_the_whole_text_definition(text):
    assert find_links(text) == links_by_whole_text_regex(text)
