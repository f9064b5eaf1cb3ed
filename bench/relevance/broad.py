"""How much of the exhaustive BM25 top 10 the every-word tier returns for broad queries.

A query whose every word matches 1,000 papers or more is not ranked by BM25
(that would first count every match of every term): the `search` saved query
ranks the first thousand matches by id, a sample, by title. This measures the
price: for broad queries made of the database's common words (single words
and random pairs), the share of the exhaustive BM25 top 10 (the same column
weights, computed here without a time limit) that our top 10 holds.

Run: `python -m bench.relevance.broad DB` (a database from `bench.relevance.scale --work`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
from pathlib import Path

from loader.search import to_fts_query
from loader.site import datasette_instance

SAMPLE_PAPERS = 3000  # abstracts the common words are read from
MIN_PAPERS = 300  # a word in at least this many of them is common
BM25 = "bm25(papers_fts, 10.0, 1.0, 2.0, 0.0)"  # as the search query weighs the columns


def broad_queries(conn: sqlite3.Connection, seed: int = 1) -> list[str]:
    counts: dict[str, int] = {}
    for (abstract,) in conn.execute("select abstract from papers order by id limit ?", [SAMPLE_PAPERS]):
        for word in set(re.findall(r"[a-z]{5,}", abstract.lower())):
            counts[word] = counts.get(word, 0) + 1
    common = [word for word, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if n >= MIN_PAPERS][:60]
    rnd = random.Random(seed)
    return common[:20] + [" ".join(rnd.sample(common, 2)) for _ in range(20)]


async def overlaps(db: Path) -> list[tuple[str, float]]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    site = datasette_instance(db)
    result = []
    for q in broad_queries(conn):
        match = to_fts_query(q)
        if conn.execute("select count(*) from (select rowid from papers_fts where papers_fts match ? limit 1000)", [match]).fetchone()[0] < 1000:
            continue  # ranked by BM25 in full already
        best = {row for (row,) in conn.execute(f"select rowid from papers_fts where papers_fts match ? order by {BM25} limit 10", [match])}
        response = await site.client.get("/papers/search.json", params={"q": q, "_shape": "array"})
        ours = {row["id"] for row in response.json()[:10]}
        result.append((q, len(best & ours) / 10))
    conn.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path)
    args = parser.parse_args()
    found = asyncio.run(overlaps(args.db))
    for q, share in found:
        print(f"{q!r:40} {share:.1f}")
    mean = sum(share for _, share in found) / len(found)
    print(f"{len(found)} broad queries: our top 10 holds {mean:.0%} of the exhaustive BM25 top 10; none of it for {sum(s == 0 for _, s in found)}")


if __name__ == "__main__":
    main()
