"""Rank with `bm25_bounded` (loader/bm25.py), or with FTS5's bm25() where it could not be built.

`search` and `related` call `bm25_bounded`. Where the compiled module is missing, each saved
query that calls it is served with bm25() instead: the same ranking on a small database, slower
at a million papers.
"""

from __future__ import annotations

from datasette import hookimpl

from loader.bm25 import FUNCTION, available, register, with_fts5_bm25


@hookimpl
def prepare_connection(conn):
    register(conn)


@hookimpl
def canned_queries(datasette, database):
    if available():
        return None
    queries = datasette.metadata("queries", database=database, fallback=False) or {}
    return {
        name: {**query, "sql": with_fts5_bm25(query["sql"])}
        for name, query in queries.items()
        if isinstance(query, dict) and f"{FUNCTION}(" in query.get("sql", "")
    }
