"""Related papers: chosen when a page asks for them, from word rarities stored at build time.

A paper's most distinctive words (TF-IDF over title and abstract, title words
counted three times) become an OR query against the full-text index; the best
BM25 matches other than the paper itself are its related papers. The query is
the `related` saved query in `metadata.yml`; the paper page runs the same one.

Only the rarities are computed by the build: how many papers of a fixed-size
sample use each word (`word_rarity`) and the corpus facts that go with it
(`corpus`). That costs the same at any size, so neither a full build nor an
incremental one pays a query per paper, and an older paper's list takes in
papers added after it without a rebuild.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter

from .text import STOPWORDS

TITLE_WEIGHT = 3
SAMPLE_SIZE = 5000  # papers whose words estimate how rare a word is
# A word in more than this many papers (per SAMPLE_SIZE, or in a tenth of a smaller corpus) is not
# distinctive: it tells little, and on a large index it makes the query slow.
COMMON_LIMIT = 20
# And a word expected in more than this many papers of the whole database is left out too, so
# one paper's query reads a bounded number of postings however large the database grows.
MAX_POSTINGS = 500

# Words too common in abstracts to tell papers apart, on top of the ordinary stop words.
COMMON_IN_ABSTRACTS = frozenset(
    """paper propose proposed show shows new novel approach method methods results based work existing recent
    recently model models task tasks data performance state art two one""".split()
)
_WORD = re.compile(r"[^\W_]{2,}")


def words(text: str) -> list[str]:
    """Lower-cased words of two or more letters or digits, stop words left out."""
    return [
        w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and w not in COMMON_IN_ABSTRACTS and not w.isdigit()
    ]


def paper_terms(title: str, abstract: str) -> Counter[str]:
    counts = Counter(words(abstract))
    for word in words(title):
        counts[word] += TITLE_WEIGHT
    return counts


def related_words(title: str | None, abstract: str | None) -> str:
    """SQL function: the paper's candidate words and their weights, as a JSON object for `json_each`."""
    return json.dumps(paper_terms(title or "", abstract or ""))


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("related_words", 2, related_words, deterministic=True)


def refresh_word_rarity(conn: sqlite3.Connection) -> None:
    """Recount `word_rarity` and `corpus` from the sample: the SAMPLE_SIZE lowest paper ids.

    Ids are hashes of titles, so the lowest ones are an unbiased sample, read
    in index order at a fixed cost however large the database is.
    """
    frequency: Counter[str] = Counter()
    sampled = 0
    for title, abstract in conn.execute("select title, abstract from papers order by id limit ?", [SAMPLE_SIZE]):
        frequency.update(paper_terms(title, abstract).keys())
        sampled += 1
    papers = conn.execute("select count(*) from papers").fetchone()[0]
    complete = sampled == papers
    limit = common_limit(sampled, papers)
    conn.execute("delete from word_rarity")
    conn.executemany(
        "insert into word_rarity (word, papers, idf) values (?, ?, ?)",
        ((word, seen, idf(seen, sampled, complete, limit)) for word, seen in frequency.items()),
    )
    conn.execute("delete from corpus")
    conn.execute(
        "insert into corpus (papers, sampled, common_limit, unseen_idf) values (?, ?, ?, ?)",
        [papers, sampled, limit, None if complete else idf(0, sampled, complete, limit)],
    )


def common_limit(sampled: int, papers: int) -> int:
    """How many sampled papers may hold a word that still counts as distinctive."""
    by_share = min(COMMON_LIMIT, max(sampled // 10, 2))
    by_postings = MAX_POSTINGS * sampled // max(papers, 1)
    return max(min(by_share, by_postings), 1)


def idf(seen: int, sampled: int, complete: bool, limit: int) -> float | None:
    """A word's rarity weight; None for a word that cannot tell papers apart.

    Words in more than `limit` sampled papers are too common (see `common_limit`);
    when the sample is every paper, a word in only one paper matches nothing else.
    """
    if seen > limit or (complete and seen <= 1):
        return None
    return math.log((sampled + 1) / (seen + 1))
