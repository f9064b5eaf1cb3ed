"""A build from scratch stages its papers: appended as the parsers deliver them, written once at the end.

A paper comes once per listing, and its last listing's text is the one kept (what an incremental
build does in place, `loader.build._write_rows`). Written in place as they came, a bulk load's
papers went to random pages of a table that grows to gigabytes: at a million papers the writer
spent 94 s of its 129 s on them, and the parsers waited for it. Appended to staging tables, the
writer is busy 73 s of the load, and `loader.build._refresh_papers` writes each paper's last text
once, in id order, together with its derived columns, where it used to update every paper a
second time (docs/benchmarks.md, "Staged papers").

Vectors wait in a log beside them. A parser embeds a paper the first time it sees it
(`loader.vectors.rows_with_vectors`), and a later listing may bring another text: a vector is kept
only when the text it was made from is the paper's last one, and the papers left without one are
embedded at the end (`loader.vectors.fill_missing_vectors`). Texts are compared by Python's hash of
(title, abstract): every hash is made here, in the writing process, so the salt is the same for all,
and two texts of one paper meet the same 64-bit hash by chance with odds of 1 in 2**64.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .records import PAPER_ROW, Rows
from .schema import PAPER_VECTORS

STAGED_PAPERS = "staged_papers"  # the tables' prefix; in the database file, whose room the build checks
_VECTOR_LOG = "temp.vector_log"  # each entry's rowid is its place in the log
# The papers are staged in tables of about this many bytes, each holding a range of ids: the last
# texts are read back in id order, and within one table that stays in SQLite's cache (at a million
# papers, 9.5 s for the copy in 32 tables against 18 s from one).
PARTITION_BYTES = 64 << 20
MAX_PARTITIONS = 1024
ID_BITS = 53  # paper ids are below 2**53 (loader/records.py)


@dataclass
class LastStaged:
    """Every staged paper's id, in id order, and the row of its last listing in its partition's table."""

    papers: np.ndarray
    rows: np.ndarray
    shift: int  # a paper's partition is its id >> shift

    def partitions(self) -> Iterator[tuple[str, int, int]]:
        """Each partition's table and its range of ids, [low, high), in id order."""
        for number in range(1 << (ID_BITS - self.shift)):
            yield _table(number), number << self.shift, (number + 1) << self.shift


class StagedPapers:
    """The papers (`PAPER_ROW`) and vectors of a bulk load, in arrival order."""

    def __init__(self, conn: sqlite3.Connection, embed: bool, text_bytes: int) -> None:
        self.conn = conn
        self.embed = embed
        partitions = min(MAX_PARTITIONS, 1 << max(0, math.ceil(math.log2(max(1, text_bytes) / PARTITION_BYTES))))
        self.shift = ID_BITS - (partitions.bit_length() - 1)
        self.counts = [0] * partitions  # rows in each partition's table: SQLite numbers a table's new rows from its largest rowid + 1
        # 20 bytes a staged paper and 4 a vector, the writer's part of a build's peak memory.
        self.ids: list[np.ndarray] = []  # of each staged paper, in arrival order
        self.rows: list[np.ndarray] = []  # and its row in its partition's table
        self.texts: list[np.ndarray] = []  # with `embed`, its text's hash
        self.made_from: list[np.ndarray] = []  # with `embed`, the arrival whose text each logged vector was made from
        self.arrived = 0
        for number in range(partitions):
            conn.execute(f"create table {_table(number)} ({', '.join(PAPER_ROW)})")
        if embed:
            conn.execute(f"create table {_VECTOR_LOG} (vector blob not null)")

    def write(self, rows: Rows) -> None:
        """Append a batch's papers, each to its partition's table."""
        shares: dict[int, list[tuple]] = {}
        places = []
        for paper in rows.papers:
            number = paper[0] >> self.shift
            shares.setdefault(number, []).append(paper)
            self.counts[number] += 1
            places.append(self.counts[number])
        for number, papers in shares.items():
            self.conn.executemany(f"insert into {_table(number)} values ({', '.join('?' * len(PAPER_ROW))})", papers)
        ids = [paper[0] for paper in rows.papers]
        self.ids.append(np.array(ids, dtype=np.int64))
        self.rows.append(np.array(places, dtype=np.int32))
        if self.embed:
            self.texts.append(np.array([hash((paper[1], paper[2])) for paper in rows.papers], dtype=np.int64))
            self._log(rows.vectors, ids)
        self.arrived += len(ids)

    def _log(self, vectors: list[tuple[int, bytes]], ids: list[int]) -> None:
        """Log a batch's vectors, each with the arrival of the text it was made from: they come in
        the order of the batch's papers, a paper listed twice in the batch once for each listing."""
        made_from, place = [], 0
        for paper, _ in vectors:
            while ids[place] != paper:
                place += 1
            made_from.append(self.arrived + place)
            place += 1
        self.conn.executemany(f"insert into {_VECTOR_LOG} values (?)", [(vector,) for _, vector in vectors])
        self.made_from.append(np.array(made_from, dtype=np.int32))

    def finish(self) -> tuple[LastStaged, set[int]]:
        """Where each paper's last text waits; and, having stored in id order each paper's vector
        made from that text, the papers left without one."""
        ids = _joined(self.ids)
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        last = order[np.append(ordered[1:] != ordered[:-1], True)] if len(ordered) else order
        staged = LastStaged(ids[last], _joined(self.rows)[last], self.shift)
        return staged, self._store_vectors(ids, staged.papers, last)

    def _store_vectors(self, ids: np.ndarray, papers: np.ndarray, last: np.ndarray) -> set[int]:
        if not self.embed:
            return set()
        made_from, texts = _joined(self.made_from), _joined(self.texts)
        entry_papers = ids[made_from]
        final = last[np.searchsorted(papers, entry_papers)]
        valid = np.flatnonzero(texts[made_from] == texts[final])
        # The same text makes the same vector: any valid entry of a paper will do.
        kept, first_valid = np.unique(entry_papers[valid], return_index=True)
        self.conn.executemany(
            f"insert into {PAPER_VECTORS.name} select ?, vector from {_VECTOR_LOG} where rowid = ?",
            zip(kept.tolist(), (valid[first_valid] + 1).tolist()),
        )
        self.conn.execute(f"drop table {_VECTOR_LOG}")
        return set(papers[~np.isin(papers, kept)].tolist())


def _table(number: int) -> str:
    return f"{STAGED_PAPERS}_{number}"


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
