"""The papers nearest a query by meaning, on two cores, at a million papers.

A server process holds, per database file version, each paper's binary code (32 bytes, 32 MB
at a million papers: the signs of its vector's components, centred on the papers' mean and
turned by a fixed random rotation, which spreads the meaning evenly over the bits), its year
and whether it has code; nothing else. A query is embedded (`loader.embed`), the papers that
pass the filters are ranked by the Hamming distance of their codes to the query's (6 ms at a
million), and the nearest `SHORTLIST` are re-ranked by the cosine of their int8 vectors, read
from the database by id. At a million papers the shortlist holds 72% of the exact cosine top
ten (measured in docs/search.md): codes of 256 bits lose that much; the re-ranking makes the
order exact within it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .embed import DIMENSIONS, embedder, from_int8
from .schema import PAPER_VECTORS, PAPERS
from .vectors import rows_by_ids
from .versions import per_file_version

SHORTLIST = 1000  # nearest by binary code, re-ranked by cosine
NEAREST = 100  # papers a query returns at most
LOAD_BATCH = 10_000  # rows read at once while loading (about 3 KB of float work a row: 30 MB a batch)
WORDS = 64  # of a query, at most: a description, not a document


@dataclass(frozen=True)
class VectorIndex:
    ids: np.ndarray  # int64, sorted
    columns: tuple[np.ndarray, ...]  # DIMENSIONS // 64 arrays of uint64: each paper's code, 64 bits in each
    years: np.ndarray  # int16, 0 when unknown
    has_code: np.ndarray  # bool
    center: np.ndarray  # float32: subtracted before the rotation (the papers' mean vector)
    rotation: np.ndarray  # float32, DIMENSIONS x DIMENSIONS, orthogonal: spreads meaning evenly over the bits

    @classmethod
    def of(cls, conn: sqlite3.Connection) -> VectorIndex:
        """Read every paper's code, year and code flag: a scan of the vectors and of one papers index."""
        ids, codes = [], []
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples, past the server's budget for what a visitor's query returns
        try:
            cursor.execute(f"select paper_id, vector from {PAPER_VECTORS.name} order by paper_id")
        except sqlite3.OperationalError:  # a database made before vectors: nothing to search by meaning
            return cls.empty()
        center, rotation = None, _rotation()
        while rows := cursor.fetchmany(LOAD_BATCH):
            ids.append(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))
            vectors = from_int8([row[1] for row in rows])
            if center is None:  # ids are hashes of titles: the first batch is a fair sample
                center = vectors.mean(axis=0)
            codes.append(_codes(vectors, center, rotation))
        if not ids:
            return cls.empty()
        all_ids = np.concatenate(ids)
        years, has_code = _years_and_code_flags(cursor, all_ids)
        every = np.concatenate(codes)
        columns = tuple(np.ascontiguousarray(every[:, j]) for j in range(every.shape[1]))
        return cls(all_ids, columns, years, has_code, center, rotation)

    @classmethod
    def empty(cls) -> VectorIndex:
        columns = tuple(np.zeros(0, np.uint64) for _ in range(DIMENSIONS // 64))
        center = np.zeros(DIMENSIONS, np.float32)
        return cls(np.zeros(0, np.int64), columns, np.zeros(0, np.int16), np.zeros(0, bool), center, _rotation())

    def shortlist(self, query: np.ndarray, year_from: int | None, year_to: int | None, with_code: bool) -> np.ndarray:
        """Ids of about `SHORTLIST` papers passing the filters whose codes are nearest the query's."""
        keep = None  # as in SQL, a paper of unknown year passes no year filter
        if year_from is not None:
            keep = (self.years >= year_from) & (self.years > 0)
        if year_to is not None:
            below = (self.years <= year_to) & (self.years > 0)
            keep = below if keep is None else keep & below
        if with_code:
            keep = self.has_code if keep is None else keep & self.has_code
        positions = np.flatnonzero(keep) if keep is not None else None
        columns = self.columns if positions is None else tuple(column[positions] for column in self.columns)
        if not len(columns[0]):
            return np.zeros(0, np.int64)
        target = _codes(query[None, :], self.center, self.rotation)[0]
        # Column by column, on contiguous arrays: 6 ms at a million papers (23 ms on the rows).
        distances = np.bitwise_count(columns[0] ^ target[0]).astype(np.uint16)
        for column, bits in zip(columns[1:], target[1:]):
            distances += np.bitwise_count(column ^ bits)
        # The nearest: every paper within the distance that the SHORTLIST-th nearest is at.
        counts = np.cumsum(np.bincount(distances, minlength=DIMENSIONS + 1))
        limit = int(np.searchsorted(counts, min(SHORTLIST, len(distances))))
        nearest = np.flatnonzero(distances <= limit)
        if len(nearest) > 2 * SHORTLIST:  # many at that distance: the first ones
            nearest = nearest[np.argsort(distances[nearest], kind="stable")[:SHORTLIST]]
        return self.ids[nearest if positions is None else positions[nearest]]


def _years_and_code_flags(cursor: sqlite3.Cursor, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each paper's year (0 when unknown) and code flag, in the order of `ids`, read in batches: a
    million rows as Python tuples at once would take 100 MB more of the server's memory at its peak."""
    years = np.zeros(len(ids), dtype=np.int16)
    has_code = np.zeros(len(ids), dtype=bool)
    # Through the (published_year, has_code) index: it holds the id too, and is small.
    cursor.execute(
        f"select id, coalesce(published_year, 0), has_code from {PAPERS.name} indexed by idx_papers_published_year_has_code"
    )
    while rows := cursor.fetchmany(LOAD_BATCH):
        papers = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
        at = np.searchsorted(ids, papers[:, 0]).clip(0, max(len(ids) - 1, 0))
        found = ids[at] == papers[:, 0]
        years[at[found]] = papers[found, 1]
        has_code[at[found]] = papers[found, 2] != 0
    return years, has_code


def _codes(vectors: np.ndarray, center: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Binary codes (uint64 words) of unit vectors: the signs of their centred, rotated components."""
    return np.packbits(((vectors - center) @ rotation) > 0, axis=1).view(np.uint64)


@lru_cache(maxsize=1)
def _rotation() -> np.ndarray:
    """A fixed random orthogonal matrix (seed 0): the same in every process, for every database."""
    matrix, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((DIMENSIONS, DIMENSIONS)))
    return matrix.astype(np.float32)


def nearest(
    conn: sqlite3.Connection, index: VectorIndex, text: str | None,
    year_from: int | None = None, year_to: int | None = None, with_code: bool = False,
) -> list[tuple[int, float]]:
    """(paper id, cosine similarity) of the papers nearest `text`, best first, at most `NEAREST`."""
    words = (text or "").split()[:WORDS]
    if not words or not len(index.ids):
        return []
    query = embedder().vectors([" ".join(words)])[0]
    if not query.any():
        return []
    return nearest_to(conn, index, query, year_from, year_to, with_code)


def nearest_to(
    conn: sqlite3.Connection, index: VectorIndex, query: np.ndarray,
    year_from: int | None = None, year_to: int | None = None, with_code: bool = False,
) -> list[tuple[int, float]]:
    """(paper id, cosine similarity) of the papers nearest the unit vector `query`, best first."""
    ids = [int(paper) for paper in index.shortlist(query, year_from, year_to, with_code)]
    found, blobs = [], []
    for paper, blob in rows_by_ids(conn, f"select paper_id, vector from {PAPER_VECTORS.name} where paper_id in ({{ids}})", ids):
        found.append(paper)
        blobs.append(blob)
    if not found:
        return []
    similarities = from_int8(blobs) @ query
    order = np.argsort(-similarities, kind="stable")[:NEAREST]
    return [(found[i], round(float(similarities[i]), 4)) for i in order]


def neighbours_json(conn: sqlite3.Connection, paper_id) -> str:
    """The SQL function `nearest_to_paper`: [id, similarity] of the papers nearest a paper's own vector."""
    try:
        paper = int(paper_id)
    except (TypeError, ValueError):
        return "[]"
    row = conn.execute(f"select vector from {PAPER_VECTORS.name} where paper_id = ?", [paper]).fetchone()
    if row is None:
        return "[]"
    pairs = nearest_to(conn, of_database(conn), from_int8([row[0]])[0])
    return json.dumps([pair for pair in pairs if pair[0] != paper])


_LEADING_INTEGER = re.compile(r"\s*[+-]?\d+")
_SYNTAX = re.compile(r"\b(?:title|abstract)\s*:|[\"*()]")
# One `VectorIndex` per database file version, read once and shared by the connections to it.
of_database = per_file_version(VectorIndex.of)


def nearest_json(conn: sqlite3.Connection, text: str | None, year_from, year_to, has_code) -> str:
    """`nearest` as the SQL function `nearest_papers` returns it: a JSON array of [id, similarity].

    Takes the search form's values as they come: years as text, `has_code` '1' (or '', '0').
    """
    with_code = has_code not in (None, "", "0", 0)
    pairs = nearest(conn, of_database(conn), plain_words(text), _year(year_from), _year(year_to), with_code)
    return json.dumps(pairs)


def plain_words(text: str | None) -> str:
    """The query's words without search syntax (`title:`, quotes, a trailing `*`): what it means."""
    return " ".join(_SYNTAX.sub(" ", text or "").split())


def _year(value) -> int | None:
    """A year filter as SQLite's `cast(value as integer)` reads it (`2024abc` is 2024, `abc` is 0); '' is none."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    match = _LEADING_INTEGER.match(str(value))
    return int(match.group(0)) if match else 0
