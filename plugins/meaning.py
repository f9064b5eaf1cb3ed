"""Register `nearest_papers`, the SQL function the `search` saved query takes its meaning candidates from.

`nearest_papers(q, year_from, year_to, has_code)` returns a JSON array of [paper id,
cosine similarity], best first (see `loader/meaning.py`). Each server process reads the
papers' binary codes once, at start, so that no visitor waits for it.
"""

from __future__ import annotations

from functools import partial

from datasette import hookimpl

from loader.meaning import nearest_json, of_database


@hookimpl
def prepare_connection(conn):
    conn.create_function("nearest_papers", 4, partial(nearest_json, conn))


@hookimpl
def startup(datasette):
    async def load_vectors():
        for database in datasette.databases.values():
            if not database.is_memory:  # without the time limit of a query: 2 s at a million papers
                await database.execute_fn(of_database)

    return load_vectors
