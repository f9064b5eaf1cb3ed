"""Snippets of the `search` query's results, made without a second pass over the index.

FTS5's snippet() needs a cursor on the match, so the query used to run its
MATCH a second time over `papers_fts` for the 50 results. For a prefix query
that merges the posting lists of every word with the prefix again (15 to 25 ms
at a million papers). `Snippets` runs the same snippet() on a one-row copy
instead: an in-memory FTS5 table with the columns and tokenizer of
`papers_fts`, holding only the result's row while the snippet is made. FTS5's
snippet() looks only at the row (its text and where the query's phrases stand
in it), so the output is the one `papers_fts` would give, at a cost that does
not grow with the corpus.
"""

from __future__ import annotations

import sqlite3

from loader.limits import apply_limits, as_stored
from loader.schema import FTS_COLUMNS, FTS_TOKENIZE

# snippet()'s marks around a match: control characters no abstract contains (the loader
# drops them), turned into <mark> after escaping by plugins/highlight.py.
MARK_START, MARK_END = "\x02", "\x03"
ELLIPSIS = "…"
SNIPPET_TOKENS = 40
SNIPPET_COLUMN = FTS_COLUMNS.index("abstract")
# The longest MATCH expression fts_query() makes is about 8,000 characters (32 terms, a compound
# form each, and a year filter of 200 years).
MAX_MATCH_CHARS = 16_000


class Snippets:
    """`fts_snippet(match, title, abstract, search_terms)`: the abstract's snippet for one row.

    One instance per database connection: its in-memory table is private to
    that connection and each snippet is made in a transaction rolled back after
    it, so the table is empty between calls.
    """

    def __init__(self) -> None:
        # Used only through the Datasette connection it belongs to, so by one thread at a time;
        # Datasette opens its own connections with the same flag.
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        apply_limits(self._conn)
        self._conn.execute(f"create virtual table one using fts5({', '.join(FTS_COLUMNS)}, tokenize='{FTS_TOKENIZE}')")

    def __call__(self, match: str, title: str | None, abstract: str | None, search_terms: str | None) -> str | None:
        """The snippet `papers_fts` gives for the row with these texts; None when the row does not match
        (or when `match` is longer than any the search query makes: the SQL box may pass anything)."""
        if match is None or len(match) > MAX_MATCH_CHARS:
            return None
        self._conn.execute("begin")
        try:
            self._conn.execute(
                "insert into one (title, abstract, search_terms) values (?, ?, ?)",
                (as_stored(title), as_stored(abstract), as_stored(search_terms)),
            )
            row = self._conn.execute(
                f"select snippet(one, {SNIPPET_COLUMN}, ?, ?, ?, ?) from one where one match ?",
                (MARK_START, MARK_END, ELLIPSIS, SNIPPET_TOKENS, match),
            ).fetchone()
        finally:
            self._conn.execute("rollback")
        return row[0] if row else None
