"""Register `related_words`, the SQL function the `related` saved query builds its word list from.

See `loader/related.py` for how related papers are chosen and why at request time.
"""

from __future__ import annotations

from datasette import hookimpl

from loader.related import register_functions


@hookimpl
def prepare_connection(conn):
    register_functions(conn)
