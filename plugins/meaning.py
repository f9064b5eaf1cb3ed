"""Register `nearest_papers` and `nearest_to_paper`, where `search` and `related` take their meaning candidates.

`nearest_papers(q, year_from, year_to, has_code)` and `nearest_to_paper(id)` return a JSON
array of [paper id, cosine similarity], best first (see `loader/meaning.py`). Each server process reads the
papers' binary codes once, at start, so that no visitor waits for it.
"""

from __future__ import annotations

from functools import partial

from datasette import hookimpl

from loader.limits import interruptible
from loader.meaning import nearest_json, neighbours_json, of_database


@hookimpl
def prepare_connection(conn):
    # Both read vectors (and the codes, first on a new version): each stops with the query that calls it.
    conn.create_function("nearest_papers", 4, interruptible(conn, partial(nearest_json, conn), "[]"))
    conn.create_function("nearest_to_paper", 1, interruptible(conn, partial(neighbours_json, conn), "[]"))


@hookimpl
def startup(datasette):
    async def load_vectors():
        for database in datasette.databases.values():
            if not database.is_memory:  # without the time limit of a query: 2 s at a million papers
                await database.execute_fn(of_database)

    return load_vectors
