"""`bm25_bounded`: FTS5's bm25() whose count of each phrase's papers stops at the 1,000th.

Before it scores a row, FTS5's bm25() counts every paper that holds each
phrase of the query, reading the phrase's whole posting list; at a million
papers that is most of the time of a query of common words (85 ms of
`combine several finetuned networks`, whose matching takes 25 ms). FTS5 lets
a ranking function be added only in C: `loader/_bm25.c`, built with the
package, counts a phrase's papers up to 1,000 and estimates a larger count
from the rowid of the 1,000th (paper ids are uniform below 2^53), then scores
as bm25() does. Below 1,000 papers a phrase is counted exactly, so on a
small database the ranking is bm25()'s to the last bit.

Where the module cannot be built or cannot reach the SQLite library that
Python's `sqlite3` uses, `available()` is False and the saved queries are
served with bm25() instead (`plugins/bm25.py`): the same ranking at
the real data's size, slower at a million papers.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
from functools import cache
from types import ModuleType

FUNCTION = "bm25_bounded"


@cache
def _module() -> ModuleType | None:
    """The compiled module, if it calls the very SQLite library whose connections it is given."""
    if not _shared_library_in_use():
        return None
    try:
        from loader import _bm25
    except ImportError:  # not built: no compiler where the package was installed
        return None
    return _bm25 if _bm25.sqlite_version() == sqlite3.sqlite_version else None


def _shared_library_in_use() -> bool:
    """True when Python's sqlite3 runs on the shared libsqlite3, which the module links to. A Python
    with SQLite built in has its own copy, and a connection of one copy must not reach the other."""
    try:
        ctypes.CDLL("libsqlite3.so.0", mode=os.RTLD_NOLOAD)  # loaded already, by sqlite3, or not at all
    except OSError:
        return False
    return True


def available() -> bool:
    return _module() is not None


def register(conn: sqlite3.Connection) -> bool:
    """Give `conn` the FTS5 function `bm25_bounded`; False where it cannot have it."""
    module = _module()
    if module is None:
        return False
    module.register(conn)
    return True


def with_fts5_bm25(sql: str) -> str:
    """`sql` ranked by FTS5's own bm25(), for a connection without `bm25_bounded` (the same arguments)."""
    return sql.replace(f"{FUNCTION}(", "bm25(")
