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


def compute_related(conn: sqlite3.Connection, fts_table: str, paper_ids: set[int] | None = None) -> None:
    """Fill the `related` rows of `paper_ids` (every paper when None).

    Incremental builds pass the papers they touched, plus any paper whose list
    points at a paper that no longer exists, so adding a dump costs a query per
    new paper, not per paper in the database. Older papers keep their lists
    until a `--rebuild`. Word rarity comes from a fixed-size sample of papers
    (the lowest ids, which are hashes, so an unbiased sample), so it costs the
    same whatever the size of the database.
    """
    conn.execute(
        "delete from related where paper_id not in (select id from papers) or related_id not in (select id from papers)"
    )
    if paper_ids is None:
        conn.execute("delete from related")
        targets = [row[0] for row in conn.execute("select id from papers")]
    else:
        short = "select paper_id from related group by paper_id having count(*) < ?"  # lost a deleted paper
        wanted = set(paper_ids) | {row[0] for row in conn.execute(short, [RELATED_PER_PAPER])}
        targets = sorted(pid for pid in wanted if conn.execute("select 1 from papers where id = ?", [pid]).fetchone())
        conn.executemany("delete from related where paper_id = ?", [(pid,) for pid in targets])
    frequency, sampled, complete = _sample_frequencies(conn)
    limit = _common_limit(sampled, conn.execute("select count(*) from papers").fetchone()[0])
    query = (
        f"select rowid, bm25({fts_table}, 5.0, 1.0, 1.0) as score from {fts_table} "
        f"where {fts_table} match ? and rowid != ? order by score limit ?"
    )
    rows = []
    for paper_id in targets:
        title, abstract = conn.execute("select title, abstract from papers where id = ?", [paper_id]).fetchone()
        terms = distinctive_terms(paper_terms(title, abstract), frequency, sampled, complete, limit)
        if not terms:
            continue
        match = " OR ".join(f'"{term}"' for term in terms)
        for rank, (other, score) in enumerate(conn.execute(query, [match, paper_id, RELATED_PER_PAPER]), start=1):
            rows.append((paper_id, rank, other, round(-score, 4)))
    conn.executemany("insert into related (paper_id, rank, related_id, score) values (?, ?, ?, ?)", rows)


def _sample_frequencies(conn: sqlite3.Connection) -> tuple[Counter[str], int, bool]:
    """Document frequencies over at most SAMPLE_SIZE papers; True when that is every paper."""
    frequency: Counter[str] = Counter()
    sampled = 0
    for title, abstract in conn.execute("select title, abstract from papers order by id limit ?", [SAMPLE_SIZE + 1]):
        if sampled == SAMPLE_SIZE:
            return frequency, sampled, False
        frequency.update(paper_terms(title, abstract).keys())
        sampled += 1
    return frequency, sampled, True


def _common_limit(sampled: int, papers: int) -> int:
    """How many sampled papers may hold a word that still counts as distinctive."""
    by_share = min(COMMON_LIMIT, max(sampled // 10, 2))
    by_postings = MAX_POSTINGS * sampled // max(papers, 1)
    return max(min(by_share, by_postings), 1)


def distinctive_terms(
    counts: Counter[str], frequency: Counter[str], sampled: int, complete: bool, limit: int
) -> list[str]:
    """The words that best tell this paper apart: frequent here, rare elsewhere.

    Words in more than `limit` sampled papers are left out (see `_common_limit`),
    and so are, when the frequencies cover every paper, words no other paper uses.
    """
    scored = []
    for word, count in counts.items():
        seen = frequency[word]
        if seen > limit or (complete and seen <= 1):
            continue
        scored.append((count * math.log((sampled + 1) / (seen + 1)), word))
    return [word for _, word in sorted(scored, reverse=True)[:TERMS_PER_PAPER]]
