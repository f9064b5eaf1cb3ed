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


def joined(compound: str) -> str:
    """`Pre-Training` -> `pretraining`."""
    return "".join(WORD.findall(compound)).lower()


def compound_terms(text: str) -> list[str]:
    """Joined forms of the text's hyphenated words and of prefix-word pairs, each once, in order.

    A prefix pair is a compound prefix ending a token ("self", "(self", not
    "myself"), then the word that starts the next token ("self supervised").
    Python's `re` costs about 100 ns a character when a pattern can start
    anywhere, which over whole abstracts was the largest cost of a build; so the
    text is split into tokens once, and only the few tokens that can take part
    are looked at: those with a hyphen, and those ending in a prefix.
    """
    found: dict[str, None] = {}
    for hyphen in UNICODE_HYPHENS:
        if hyphen in text:
            text = text.replace(hyphen, "-")
    for token in [token for token in text.split() if "-" in token]:
        for match in HYPHENATED.finditer(token):
            found[joined(match.group(0))] = None
    tokens = text.lower().split()
    for at in [at for at, token in enumerate(tokens[:-1]) if token.endswith(_PREFIX_ENDINGS)]:
        first, second = _last_word(tokens[at]), _first_word(tokens[at + 1])
        if first in COMPOUND_PREFIXES and second and second not in STOPWORDS:
            found[first + second] = None
    return list(found)


_PREFIX_ENDINGS = tuple(COMPOUND_PREFIXES)


def _last_word(token: str) -> str:
    """The letters and digits that end the token ("(self" -> "self")."""
    start = len(token)
    while start and token[start - 1].isalnum():
        start -= 1
    return token[start:]


def _first_word(token: str) -> str:
    """The letters and digits that begin the token ("supervised)," -> "supervised")."""
    end = 0
    while end < len(token) and token[end].isalnum():
        end += 1
    return token[:end]


def search_terms(title: str, abstract: str) -> str:
    """The extra indexed text of a paper: its compounds, joined."""
    return " ".join(compound_terms(f"{title}\n{abstract}"))
