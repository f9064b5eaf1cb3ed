"""Register the search functions of `loader.search` and `loader.snippets` on every Datasette connection.

`fts_query`, `fts_any`, `fts_filters`, `exact_phrases`, `match_boost`, `title_score` and `fts_snippet` are
what the `search` saved query calls; see `loader/search.py` and `loader/snippets.py` for
what each does and why.
"""

from __future__ import annotations

from datasette import hookimpl

from loader.search import exact_phrases, filters, match_boost, title_score, to_fts_any, to_fts_query
from loader.snippets import Snippets


@hookimpl
def prepare_connection(conn):
    conn.create_function("fts_query", 1, to_fts_query, deterministic=True)
    conn.create_function("fts_any", 1, to_fts_any, deterministic=True)
    conn.create_function("fts_filters", 5, filters, deterministic=True)
    conn.create_function("exact_phrases", 3, exact_phrases, deterministic=True)
    conn.create_function("match_boost", 3, match_boost, deterministic=True)
    conn.create_function("title_score", 2, title_score, deterministic=True)
    conn.create_function("fts_snippet", 4, Snippets(), deterministic=True)  # one in-memory table per connection
