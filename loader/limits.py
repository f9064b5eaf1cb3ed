"""Hard limits on every SQLite connection the site opens, so that no request can take the server's memory.

Datasette's time limit is a progress handler, which SQLite runs between the
steps of a query but never inside one function call: `randomblob(300000000)`
took 1.5 GB and 4.3 s past a 1.5 s limit. SQLite's own limits stop such a
value before it is made ("string or blob too big"), whatever the SQL. Each is
chosen from what the site's own queries need, with room; `LIMITS` says why.

What a query returns is bounded too: `ResultBudget` counts the characters and
bytes of the rows Datasette fetches and stops a result past `RESULT_BUDGET`.
So one query holds at most one row (`MAX_COLUMNS` values of `MAX_VALUE_BYTES`)
plus `RESULT_BUDGET`, however it was written, and SQLite itself at most
`SQLITE_HEAP_BYTES` in a server process (see docs/security.md).
"""

from __future__ import annotations

import ctypes
import sqlite3
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import wraps
from typing import Callable

from .parser import MAX_LINE_CHARS

MAX_VALUE_BYTES = 1_000_000
MAX_COLUMNS = 32
RESULT_BUDGET = 4_000_000  # characters of text and bytes of blobs in one query's rows
# All that SQLite may allocate in one server process (`limit_sqlite_heap`). A prefix query makes
# FTS5 merge posting lists in memory, uninterruptibly: `a*` at a million papers took 150 MB and
# 1.6 s. With this limit such a merge fails ("out of memory", a 400) within about half a second,
# while the site's own queries use a fraction of it (page caches of 2 MB a connection).
SQLITE_HEAP_BYTES = 128_000_000

# limit: (value, why)
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: (
        MAX_VALUE_BYTES,
        f"the longest value the loader stores is a {MAX_LINE_CHARS:,}-character line (at most 80 KB of UTF-8); "
        "1 MB leaves room for a page of titles through group_concat() or a JSON aggregate",
    ),
    sqlite3.SQLITE_LIMIT_COLUMN: (MAX_COLUMNS, "the widest table, papers, has 17 columns; a join of it with appearances has 25"),
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: (100_000, "the longest saved query, search, is 7 KB, and a URL carries less than 100 KB"),
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: (100, "the saved queries nest less than 20 deep; a chain of 100 filters is no search"),
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: (16, "the search query unites 3 selects; Datasette's own SQL none"),
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: (1_000, "as long as a search query may be (loader.search.MAX_QUERY_CHARS)"),
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: (500, "saved queries bind fewer than 10; `id__in` lists of 500 ids are enough"),
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: (32, "no function the site calls takes more than 8 arguments"),
    sqlite3.SQLITE_LIMIT_ATTACHED: (0, "the site reads one file; attach is refused anyway on read-only connections"),
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: (1, "nothing is written through the site"),
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: (0, "a sort uses the request's own thread, not more of the two cores"),
}


class ResultTooLarge(sqlite3.DataError):
    """A query's rows went past `RESULT_BUDGET`; a `DataError` like SQLite's "string or blob too big", so
    Datasette shows it as the query's error and `plugins/bad_requests.py` answers 400."""


def as_stored(text: str | None) -> str:
    """A text no longer than the database can hold one (the loader's longest line).

    The site's SQL functions cut their text arguments so: the SQL box may pass
    them any string up to `MAX_VALUE_BYTES`, and their work grows with it.
    """
    return (text or "")[:MAX_LINE_CHARS]


def is_interrupted(error: sqlite3.Error) -> bool:
    """The error of a query stopped by the time limit (or `Connection.interrupt`)."""
    return isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted"


def interruptible(conn: sqlite3.Connection, function: Callable, stopped: str) -> Callable:
    """`function`, an SQL function that runs SQL of its own on `conn`, made to stop with the query.

    The time limit may fall while the function's own SQL runs (a spelling
    lookup, the vectors read after a rebuild). SQLite reports any exception of
    a Python function as "user-defined function raised exception": a 400 with
    no explanation, where a query stopped anywhere else is "interrupted" and
    its visitor gets the search page and a sentence (`plugins/search_cut_short.py`).
    So the function interrupts the query that called it, which stops at its
    next step, and meanwhile returns `stopped`: a value its callers take
    without an error of their own (which SQLite would report first), such as
    the empty FTS5 phrase in a MATCH, where NULL would be a syntax error, or an
    empty JSON array where `json_each` reads one.
    """

    @wraps(function)
    def stopping_with_the_query(*args):
        try:
            return function(*args)
        except sqlite3.OperationalError as error:
            if not is_interrupted(error):
                raise
            conn.interrupt()
            return stopped

    return stopping_with_the_query


class ClosingCursorsExecutor(ThreadPoolExecutor):
    """Datasette's SQL threads, where a query that fails has its cursors closed in the thread that ran it.

    A cursor whose query failed (stopped by the time limit, a result past the
    budget) keeps its statement marked in use, and Datasette keeps the error in
    a frame the error's traceback holds: a reference cycle, which the garbage
    collector frees later, from whatever thread it runs in. Closing the cursor
    there resets the statement, which waits for the statement's connection: if
    that connection runs its next query meanwhile (the next ad hoc SQL to the
    time limit), the collecting thread, a search's or the event loop's, waited
    up to 1.5 s (docs/security.md). Closed here, in the connection's own thread
    and between its queries, the cursor leaves the collector nothing to wait on.
    """

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_closing_cursors_on_error, fn, *args, **kwargs)


def _closing_cursors_on_error(fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except BaseException as error:
        close_cursors(error.__traceback__)
        raise


def close_cursors(traceback) -> None:
    """Close every cursor a frame of `traceback` holds (the frames the error passed through)."""
    while traceback is not None:
        for value in list(traceback.tb_frame.f_locals.values()):
            if isinstance(value, sqlite3.Cursor):
                try:
                    value.close()
                except sqlite3.ProgrammingError:  # its connection is closed
                    pass
        traceback = traceback.tb_next


MALLOC_ARENAS = 2  # glibc malloc arenas in one server process (`limit_malloc_arenas`)
M_ARENA_MAX = -8  # mallopt's parameter number for it (glibc's malloc.h)


def limit_malloc_arenas() -> None:
    """At most `MALLOC_ARENAS` malloc arenas in a server process (glibc; elsewhere nothing is done).

    glibc gives a thread that finds the arenas busy one of its own, up to eight
    a core, and memory freed in one arena serves no other: the server's SQL
    threads, numpy and the event loop held 40 MB more at a million papers than
    with two arenas (docs/search.md), for no speed a two-core server shows.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def limit_sqlite_heap() -> None:
    """Cap what SQLite allocates in this process, all connections together (a server process only:
    a build in the same process would need more for its page cache)."""
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"pragma hard_heap_limit = {SQLITE_HEAP_BYTES}")


def apply_limits(conn: sqlite3.Connection) -> None:
    for limit, (value, _why) in LIMITS.items():
        conn.setlimit(limit, value)


class ResultBudget:
    """A row factory (Datasette's `sqlite3.Row`) that stops one cursor's rows past `RESULT_BUDGET`.

    Datasette fetches up to `max_returned_rows` rows into memory and then
    encodes them: a thousand rows of a megabyte each would be a gigabyte
    before any limit of SQLite's applied. Each cursor is one query.
    """

    def __init__(self) -> None:
        self._cursor: weakref.ref | None = None
        self._spent = 0

    def __call__(self, cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
        if self._cursor is None or self._cursor() is not cursor:
            self._cursor, self._spent = weakref.ref(cursor), 0
        for value in row:
            if value.__class__ is str or value.__class__ is bytes:
                self._spent += len(value)
        if self._spent > RESULT_BUDGET:
            raise ResultTooLarge(
                f"the result is larger than {RESULT_BUDGET:,} characters: ask for fewer rows (_size) or shorter columns"
            )
        return sqlite3.Row(cursor, row)
