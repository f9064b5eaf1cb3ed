"""Register the search functions of `loader.search` and `loader.snippets` on every Datasette connection.

`fts_query`, `fts_any`, `search_note`, `fts_filters`, `exact_phrases`, `match_boost`, `title_score`,
`fts_snippet`, `spelling_suggestion`, `respelled` and `words_left_out` are what the `search` saved query calls; see
`loader/search.py`, `loader/snippets.py` and `loader/spelling.py` for what each does and why.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from datasette import hookimpl

from loader.limits import interruptible
from loader.prefixes import of_database
from loader.spelling import of_connection as corrections
from loader.search import (
    MATCH_NOTHING,
    exact_phrases,
    filters,
    fts_required,
    fts_terms,
    fts_title,
    match_boost,
    search_note,
    title_score,
    to_fts_any,
    to_fts_query,
    words_left_out,
)
from loader.snippets import Snippets


def register(conn, name: str, arguments: int, function, stopped: str = MATCH_NOTHING) -> None:
    """Each is deterministic, and may run SQL of its own (the spelling's lookups): it stops with the
    query, returning `stopped` meanwhile (a valid MATCH expression, or for a JSON array, an empty one)."""
    conn.create_function(name, arguments, interruptible(conn, function, stopped), deterministic=True)


def open_index(conn) -> None:
    """Open `papers_fts` on the connection now, outside any query's time limit: FTS5 reads its
    configuration when a connection first uses the table, and a time limit that fell there would end
    the search as "vtable constructor failed" instead of "interrupted" (the cut-short page)."""
    try:
        conn.execute("select 1 from papers_fts limit 0").fetchall()
    except sqlite3.OperationalError:  # not a papers database
        pass


@hookimpl
def prepare_connection(conn):
    open_index(conn)
    expand = of_database(conn).expansion  # broad prefixes searched as their commonest words
    spelling = corrections(conn)  # typos searched with the words meant
    terms = dict(expand=expand, correct=spelling.alternatives)
    known = dict(terms, held=spelling.held)  # "every word" leaves out a word no paper holds
    register(conn, "fts_query", 1, partial(to_fts_query, **known))
    register(conn, "fts_any", 1, partial(to_fts_any, **terms))
    register(conn, "search_note", 1, partial(search_note, **known))
    left_out = partial(words_left_out, **known)
    register(conn, "words_left_out", 1, lambda q: len(left_out(q)), stopped=0)
    register(conn, "fts_terms", 1, partial(fts_terms, **terms), stopped="[]")
    register(conn, "fts_required", 1, partial(fts_required, expand=expand))
    register(conn, "fts_title", 1, partial(fts_title, **known))
    register(conn, "fts_filters", 5, filters)
    register(conn, "exact_phrases", 3, exact_phrases)
    # The papers found for a typo are ranked by the words meant.
    register(conn, "match_boost", 3, lambda q, title, abstract: match_boost(spelling.meant(q), title, abstract))
    register(conn, "title_score", 2, lambda q, title: title_score(spelling.meant(q), title))
    register(conn, "spelling_suggestion", 1, spelling.suggestion)
    register(conn, "respelled", 3, spelling.respelled)
    register(conn, "fts_snippet", 4, Snippets())  # one in-memory table per connection
