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
from typing import Iterator

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


def joined(compound: str) -> str:
    """`Pre-Training` -> `pretraining`."""
    return "".join(WORD.findall(compound)).lower()


def compound_terms(text: str) -> list[str]:
    """Joined forms of the text's hyphenated words and of prefix-word pairs, each once, in order.

    A prefix pair is a compound prefix ending a token ("self", "(self", not
    "myself"), then the word that starts the next token ("self supervised").
    Python's `re` costs about 100 ns a character when a pattern can start
    anywhere, which over whole abstracts was the largest cost of a build; so
    hyphenated words are looked for only in the tokens around a hyphen, and
    prefix pairs with a pattern that begins with a literal (see `_prefix_pairs`).
    """
    found: dict[str, None] = {}
    for hyphen in UNICODE_HYPHENS:
        if hyphen in text:
            text = text.replace(hyphen, "-")
    spaced = _spaces_only(text)
    hyphen = spaced.find("-")
    while hyphen != -1:
        start, end = spaced.rfind(" ", 0, hyphen) + 1, spaced.find(" ", hyphen)
        end = len(spaced) if end == -1 else end
        for compound in HYPHENATED.findall(spaced, start, end):  # in the token around the hyphen
            found[compound.replace("-", "").lower()] = None  # `joined`, for a match of HYPHENATED
        hyphen = spaced.find("-", end)
    for _, pair in sorted(_prefix_pairs(spaced.lower())):
        found[pair] = None
    return list(found)


# ASCII's blanks (those `str.split` splits on) but the space.
_ASCII_BLANKS_BUT_SPACE = b"\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _spaces_only(text: str) -> str:
    """The text with spaces as its only blanks: itself when it is ASCII without others.

    That is most abstracts, which one pass at C speed tells (a fifth of the
    cost of `" ".join(text.split())`, which the others get).
    """
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_BLANKS_BUT_SPACE)) == len(raw):
            return text
    return " ".join(text.split())


def _prefix_pairs(spaced: str) -> Iterator[tuple[int, str]]:
    """(position, joined pair) of every prefix that ends a token and is followed by a word.

    `spaced` is lower-case with spaces as its only blanks. The prefixes are
    looked for in the reversed text, where the pattern starts with the space
    after the prefix: `re` skips to a literal first character at C speed.
    """
    end = len(spaced) - 1
    for match in _REVERSED_PREFIX_AND_SPACE.finditer(spaced[::-1]):
        space = end - match.start()
        second = _next_word(spaced, space + 1)
        if second and second not in STOPWORDS:
            prefix = match.group(1)[::-1]
            yield space - len(prefix), prefix + second


# " erp" for "pre " in reversed text, not followed (preceded, read forwards) by a letter or digit.
_REVERSED_PREFIX_AND_SPACE = re.compile(
    r" (" + "|".join(sorted((prefix[::-1] for prefix in COMPOUND_PREFIXES), key=len, reverse=True)) + r")(?![^\W_])"
)


_NEXT_WORD = re.compile(r" *([^\W_]+)")


def _next_word(text: str, start: int) -> str:
    """The letters and digits that begin the next token (" supervised)," -> "supervised")."""
    match = _NEXT_WORD.match(text, start)
    return match.group(1) if match else ""


def search_terms(title: str, abstract: str) -> str:
    """The extra indexed text of a paper: its compounds, joined."""
    return " ".join(compound_terms(f"{title} {abstract}"))
