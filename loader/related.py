"""Related papers, computed at build time.

For every paper, its most distinctive words (TF-IDF over title and abstract,
title words counted three times) become an OR query against the full-text
index; the best BM25 matches other than the paper itself are its related
papers. Stored in the `related` table, so pages and the `related` saved query
read them without any work at request time.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter

from .text import STOPWORDS

TERMS_PER_PAPER = 12
RELATED_PER_PAPER = 5
TITLE_WEIGHT = 3

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


def compute_related(conn: sqlite3.Connection, fts_table: str) -> None:
    """Fill the `related` table for every paper (two passes over the papers, bounded memory)."""
    document_frequency: Counter[str] = Counter()
    papers = 0
    for title, abstract in conn.execute("select title, abstract from papers"):
        document_frequency.update(paper_terms(title, abstract).keys())
        papers += 1
    conn.execute("delete from related")
    query = (
        f"select rowid, bm25({fts_table}, 5.0, 1.0) as score from {fts_table} "
        f"where {fts_table} match ? and rowid != ? order by score limit ?"
    )
    rows = []
    for paper_id, title, abstract in conn.execute("select id, title, abstract from papers").fetchall():
        terms = distinctive_terms(paper_terms(title, abstract), document_frequency, papers)
        if not terms:
            continue
        match = " OR ".join(f'"{term}"' for term in terms)
        for rank, (other, score) in enumerate(conn.execute(query, [match, paper_id, RELATED_PER_PAPER]), start=1):
            rows.append((paper_id, rank, other, round(-score, 4)))
    conn.executemany("insert into related (paper_id, rank, related_id, score) values (?, ?, ?, ?)", rows)


def distinctive_terms(counts: Counter[str], document_frequency: Counter[str], papers: int) -> list[str]:
    """The words that best tell this paper apart: frequent here, rare elsewhere, but shared with some paper."""
    scored = [
        (count * math.log(papers / document_frequency[word]), word)
        for word, count in counts.items()
        if document_frequency[word] > 1
    ]
    return [word for _, word in sorted(scored, reverse=True)[:TERMS_PER_PAPER]]
