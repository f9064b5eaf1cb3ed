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
# A compound prefix standing as a word, then the next word ("self supervised").
PREFIX_PAIR = re.compile(r"(?<![^\W_])(" + "|".join(sorted(COMPOUND_PREFIXES)) + r")\s+(?=([^\W_]+))")  # the second word is not consumed: it may start a pair too
# Hyphenated words (ASCII hyphen, Unicode hyphen, non-breaking hyphen), anchored at a word start
# so the regex does not retry inside every word.
HYPHENATED = re.compile(r"(?<![^\W_])[^\W_]+(?:[-‐‑][^\W_]+)+")


def joined(compound: str) -> str:
    """`Pre-Training` -> `pretraining`."""
    return "".join(WORD.findall(compound)).lower()


def compound_terms(text: str) -> list[str]:
    """Joined forms of the text's hyphenated words and of prefix-word pairs, each once, in order."""
    found: dict[str, None] = {}
    for match in HYPHENATED.finditer(text):
        found[joined(match.group(0))] = None
    for first, second in PREFIX_PAIR.findall(text.lower()):
        if second not in STOPWORDS:
            found[first + second] = None
    return list(found)


def search_terms(title: str, abstract: str) -> str:
    """The extra indexed text of a paper: its compounds, joined."""
    return " ".join(compound_terms(f"{title}\n{abstract}"))
