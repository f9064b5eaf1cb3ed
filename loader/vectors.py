"""Each paper's vector, computed where its rows are: in the parser processes of a build.

`rows_with_vectors` wraps `loader.records.rows_of_dumps` (which stays pure) and adds to each
batch the vectors of its papers, int8 (`loader.embed`). A paper is embedded once per process,
and an incremental build skips the papers that the published database already holds, with the
same title and abstract, and a vector: a build embeds only new or changed papers. The writing
process keeps text and vector together: a batch that brings a paper's text without its vector
(embedded before) but with another text than the stored one drops the stored vector
(`outdated_by`; a build from scratch compares its staged texts instead, `loader.staging`), and
whatever a build still lacks (that, a database made before vectors, a standby generation behind
the published one) is filled by `fill_missing_vectors` at the end.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .embed import embedder, paper_text, to_int8
from .records import DumpDone, Rows, rows_of_dumps
from .schema import PAPER_VECTORS, PAPERS

FILL_BATCH = 2000  # papers read and embedded at once by `fill_missing_vectors`
IDS_PER_QUERY = 500  # ids bound in one `in (...)`: well under SQLite's limit of variables


def rows_with_vectors(
    dumps: list[tuple[Path, str]], share: tuple[int, int] = (0, 1), published: str | None = None, embed: bool = True
) -> Iterator[tuple[str, Rows | DumpDone]]:
    """`rows_of_dumps`, each batch with `vectors`: (paper id, int8 vector) of its papers to embed (none, not `embed`)."""
    if not embed:
        yield from rows_of_dumps(dumps, share)
        return
    known = _open_published(published)
    embedded = SortedIds()
    try:
        for name, part in rows_of_dumps(dumps, share):
            if isinstance(part, Rows):
                new = embedded.lacks([paper[0] for paper in part.papers])
                wanted = [paper for paper, is_new in zip(part.papers, new) if is_new]
                wanted = _not_in(known, wanted) if known else wanted
                part.vectors = vectors_of(wanted)
                embedded.add([paper[0] for paper in wanted])
            yield name, part
    finally:
        if known:
            known.close()


class SortedIds:
    """A set of paper ids kept as one sorted array: 8 bytes an id, where a set of Python ints
    costs some 60 (30 MB of a parser at a million papers)."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)

    def lacks(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """For each of `ids`, whether the set lacks it."""
        wanted = np.array(ids, dtype=np.int64)
        places = np.searchsorted(self.ids, wanted)
        found = places < len(self.ids)
        found[found] = self.ids[places[found]] == wanted[found]
        return ~found

    def add(self, ids: list[int]) -> None:
        new = np.unique(np.array(ids, dtype=np.int64))
        new = new[self.lacks(new)]
        self.ids = np.insert(self.ids, np.searchsorted(self.ids, new), new)


def vectors_of(papers: list[tuple]) -> list[tuple[int, bytes]]:
    """(id, int8 vector) for rows that start (id, title, abstract, ...)."""
    if not papers:
        return []
    vectors = embedder().vectors([paper_text(title, abstract) for _, title, abstract, *_ in papers])
    return list(zip((paper[0] for paper in papers), to_int8(vectors)))


def write_vectors(conn: sqlite3.Connection, vectors: Iterable[tuple[int, bytes]]) -> None:
    """Store vectors; an unchanged one is not written again."""
    conn.executemany(
        f"insert into {PAPER_VECTORS.name} (paper_id, vector) values (?, ?) "
        "on conflict(paper_id) do update set vector = excluded.vector where vector is not excluded.vector",
        vectors,
    )


def drop_vectors(conn: sqlite3.Connection, papers: Iterable[int]) -> None:
    """Forget the vectors of `papers` (their text changed since they were embedded)."""
    conn.executemany(f"delete from {PAPER_VECTORS.name} where paper_id = ?", [(paper,) for paper in papers])


def outdated_by(conn: sqlite3.Connection, rows: Rows) -> set[int]:
    """Papers of a batch that come without a vector (embedded earlier) but with another text than stored.

    Called before the batch is written: the vector stored is then the old text's, and the
    paper must be embedded again (a paper listed with one abstract, then another, then the first).
    """
    with_vector = {paper for paper, _ in rows.vectors}
    texts = {paper[0]: (paper[1], paper[2]) for paper in rows.papers if paper[0] not in with_vector}
    stored = stored_texts(conn, list(texts))
    return {paper for paper, text in texts.items() if paper in stored and stored[paper] != text}


def stored_texts(conn: sqlite3.Connection, ids: list[int], with_vector: bool = False) -> dict[int, tuple[str, str]]:
    """id -> (title, abstract) of the papers among `ids` that `conn` holds (with a vector, if asked)."""
    join = f"join {PAPER_VECTORS.name} v on v.paper_id = p.id" if with_vector else ""
    sql = f"select p.id, p.title, p.abstract from {PAPERS.name} p {join} where p.id in ({{ids}})"
    return {paper: (title, abstract) for paper, title, abstract in rows_by_ids(conn, sql, ids)}


def rows_by_ids(conn: sqlite3.Connection, sql: str, ids: list[int]) -> Iterator[tuple]:
    """The rows of `sql`, whose `{ids}` stands for any number of ids, asked `IDS_PER_QUERY` at a time."""
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        yield from conn.execute(sql.format(ids=",".join("?" * len(chunk))), chunk)


def fill_missing_vectors(conn: sqlite3.Connection, among: set[int] | None) -> int:
    """Embed the papers without a vector, of `among` (None: of all papers); return how many."""
    if among is None:
        missing = [
            row[0]
            for row in conn.execute(
                f"select id from {PAPERS.name} where id not in (select paper_id from {PAPER_VECTORS.name})"
            )
        ]
    else:
        ids = sorted(among)
        have = {row[0] for row in rows_by_ids(conn, f"select paper_id from {PAPER_VECTORS.name} where paper_id in ({{ids}})", ids)}
        missing = [paper for paper in ids if paper not in have]
    for start in range(0, len(missing), FILL_BATCH):
        texts = stored_texts(conn, missing[start : start + FILL_BATCH])
        write_vectors(conn, vectors_of([(paper, title, abstract) for paper, (title, abstract) in texts.items()]))
    return len(missing)


def _open_published(path: str | None) -> sqlite3.Connection | None:
    """The published database, read-only, when it has vectors to compare with; else None."""
    if not path or not Path(path).exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute(f"select 1 from {PAPER_VECTORS.name} limit 1").fetchall()
        return conn
    except sqlite3.Error:
        return None


def _not_in(known: sqlite3.Connection, papers: list[tuple]) -> list[tuple]:
    """The papers `known` lacks, or holds with another title or abstract, or without a vector."""
    stored = stored_texts(known, [paper[0] for paper in papers], with_vector=True)
    return [paper for paper in papers if stored.get(paper[0]) != (paper[1], paper[2])]
