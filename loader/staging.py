"""A build from scratch stages its papers: appended as the parsers deliver them, written once at the end.

A paper comes once per listing, and its last listing's text is the one kept (what an incremental
build does in place, `loader.build._write_rows`). Written in place as they came, a bulk load's
papers went to random pages of a table that grows to gigabytes: at a million papers the writer
spent 94 s of its 129 s on them, and the parsers waited for it. Appended to `staged_papers` they
cost some 15 s, and `loader.build._refresh_papers` writes each paper's last text once, in id order,
together with its derived columns, where it used to update every paper a second time
(docs/benchmarks.md, "Staged papers").

Vectors wait in a log beside them. A parser embeds a paper the first time it sees it
(`loader.vectors.rows_with_vectors`), and a later listing may bring another text: a vector is kept
only when the text it was made from is the paper's last one, and the papers left without one are
embedded at the end (`loader.vectors.fill_missing_vectors`). Texts are compared by Python's hash of
(title, abstract): every hash is made here, in the writing process, so the salt is the same for all,
and two texts of one paper meet the same 64-bit hash by chance with odds of 1 in 2**64.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from .records import Rows
from .schema import PAPER_VECTORS

STAGED_PAPERS = "staged_papers"  # in the database file, whose room the build checks; dropped once written
_VECTOR_LOG = "temp.vector_log"  # each entry's rowid is its place in the log
# Every staged paper's id, in id order, and the staged row of its last listing (`last_rows`).
LastStaged = tuple[np.ndarray, np.ndarray]


class StagedPapers:
    """The papers (id, title, abstract, title_key, search_terms) and vectors of a bulk load, in arrival order."""

    def __init__(self, conn: sqlite3.Connection, embed: bool) -> None:
        self.conn = conn
        self.embed = embed
        self.ids: list[np.ndarray] = []  # of each staged row, in order: row n is the n-th id (rowids count from 1)
        self.texts: list[np.ndarray] = []  # with `embed`, each staged row's text hash
        self.vector_papers: list[np.ndarray] = []  # with `embed`, each log entry's paper
        self.vector_rows: list[np.ndarray] = []  # and the staged row whose text it was made from
        self.rows = 0
        conn.execute(
            f"create table {STAGED_PAPERS} (id integer not null, title text, abstract text, title_key text, search_terms text)"
        )
        if embed:
            conn.execute(f"create table {_VECTOR_LOG} (vector blob not null)")

    def write(self, rows: Rows) -> None:
        """Append a batch's papers (SQLite numbers a table's new rows from its largest rowid + 1)."""
        first = self.rows + 1
        self.conn.executemany(f"insert into {STAGED_PAPERS} values (?, ?, ?, ?, ?)", rows.papers)
        ids = [paper[0] for paper in rows.papers]
        self.ids.append(np.array(ids, dtype=np.int64))
        self.rows += len(ids)
        if self.embed:
            self.texts.append(np.array([hash((paper[1], paper[2])) for paper in rows.papers], dtype=np.int64))
            self._log(rows.vectors, ids, first)

    def _log(self, vectors: list[tuple[int, bytes]], ids: list[int], first: int) -> None:
        """Log a batch's vectors, each with the staged row of the paper it was made for: they come in
        the order of the batch's papers, a paper listed twice in the batch once for each listing."""
        made_from, place = [], 0
        for paper, _ in vectors:
            while ids[place] != paper:
                place += 1
            made_from.append(first + place)
            place += 1
        self.conn.executemany(f"insert into {_VECTOR_LOG} values (?)", [(vector,) for _, vector in vectors])
        self.vector_papers.append(np.array([paper for paper, _ in vectors], dtype=np.int64))
        self.vector_rows.append(np.array(made_from, dtype=np.int64))

    def last_rows(self) -> LastStaged:
        """Every staged paper's id, in id order, and the staged row of its last listing."""
        ids = _joined(self.ids)
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        last = np.append(ordered[1:] != ordered[:-1], True) if len(ordered) else np.zeros(0, dtype=bool)
        return ordered[last], order[last] + 1

    def store_vectors(self, papers: np.ndarray, last: np.ndarray) -> set[int]:
        """Store, in id order, each paper's vector made from its last text (`last_rows`); return the
        papers left without one."""
        if not self.embed:
            return set()
        entry_papers, made_from = _joined(self.vector_papers), _joined(self.vector_rows)
        texts = _joined(self.texts)
        final = last[np.searchsorted(papers, entry_papers)]
        valid = np.flatnonzero(texts[made_from - 1] == texts[final - 1])
        # The same text makes the same vector: any valid entry of a paper will do.
        kept, first_valid = np.unique(entry_papers[valid], return_index=True)
        self.conn.executemany(
            f"insert into {PAPER_VECTORS.name} select ?, vector from {_VECTOR_LOG} where rowid = ?",
            zip(kept.tolist(), (valid[first_valid] + 1).tolist()),
        )
        self.conn.execute(f"drop table {_VECTOR_LOG}")
        return set(papers[~np.isin(papers, kept)].tolist())


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
