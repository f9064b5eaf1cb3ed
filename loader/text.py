"""Words as search sees them, shared by the loader (index time) and the search plugin (query time).

The corpus writes one word many ways: `pre-training`, `pretraining`,
`pre training`; `self-supervised`, `selfsupervised`, `Self Supervised`.
FTS5's tokenizer splits on the hyphen, so each paper also gets its compounds
joined (`pretraining`, `selfsupervised`) in an extra indexed column, and a
hyphenated query word also asks for the joined form. Porter stemming then
makes `pretrained` and `pretraining` meet.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above across after again against all also although among an and any are as at be because been
    being between both but by can could did do does doing during each either et etc for from further had has
    have having here how however i if in into is it its itself just may more most much must no nor not of
    off on once one only or other our ours out over own per same several should so some such than that the
    their them then there these they this those through thus to too under until up upon us very via was we
    well were what when where whether which while who whom why will with within without would yet you your""".split()
)

# First halves of compounds written both joined and apart ("self supervised", "pre training").
COMPOUND_PREFIXES = frozenset(
    "pre post self fine re co multi non semi cross inter intra sub super un zero few layer meta under over".split()
)

WORD = re.compile(r"[^\W_]+")
# A hyphenated word (Unicode hyphens made ASCII first) inside one whitespace-free token.
HYPHENATED = re.compile(r"(?<![^\W_])[^\W_]++(?:-[^\W_]++)+")
UNICODE_HYPHENS = ("\u2010", "\u2011")  # hyphen, non-breaking hyphen
# A compound prefix, whitespace, and (not consumed: it may start a pair too) the next word.
# No look-behind in front, so `re` can skip ahead to the prefixes' first letters;
# the caller checks that the prefix starts a word.
PREFIX_PAIR = re.compile(r"(" + "|".join(sorted(COMPOUND_PREFIXES)) + r")\s+(?=([^\W_]+))")


def joined(compound: str) -> str:
    """`Pre-Training` -> `pretraining`."""
    return "".join(WORD.findall(compound)).lower()


def compound_terms(text: str) -> list[str]:
    """Joined forms of the text's hyphenated words and of prefix-word pairs, each once, in order.

    Python's `re` costs about 100 ns a character when a pattern can start
    anywhere, which over whole abstracts was the largest cost of a build; so
    hyphenated words are only looked for in the tokens that hold a hyphen, and
    prefix pairs with a pattern whose first letters `re` can skip to.
    """
    found: dict[str, None] = {}
    for hyphen in UNICODE_HYPHENS:
        if hyphen in text:
            text = text.replace(hyphen, "-")
    for token in [token for token in text.split() if "-" in token]:
        for match in HYPHENATED.finditer(token):
            found[joined(match.group(0))] = None
    lowered = text.lower()
    for match in PREFIX_PAIR.finditer(lowered):
        first, second = match.groups()
        at = match.start()
        if (at == 0 or not lowered[at - 1].isalnum()) and second not in STOPWORDS:
            found[first + second] = None
    return list(found)


def search_terms(title: str, abstract: str) -> str:
    """The extra indexed text of a paper: its compounds, joined."""
    return " ".join(compound_terms(f"{title}\n{abstract}"))
