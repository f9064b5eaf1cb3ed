"""Answer 400, not 500, when a visitor's parameters are what Datasette cannot handle.

Datasette 0.65 turns some malformed parameters into 500 errors: `_sort` on a
column that does not exist, `_facet` or `_through` that is not JSON (or
`_through` JSON that is not an object), a NUL byte or two statements in
`_where`, an integer beyond SQLite's range, a row key that does not fit the
table's primary key; a query past the site's limits (loader/limits.py), out of
SQLite's memory among them. Each is the visitor's input, not a fault of the server,
so it gets Datasette's own error page (or JSON) with status 400 and the
reason. Other exceptions keep their 500: those are bugs.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.utils.asgi import BadRequest
from datasette.views.base import DatasetteError

from loader.limits import SQLITE_HEAP_BYTES

# What bad parameters raise inside Datasette: sqlite3's refusals of a query or a binding,
# JSON parsing of facet and through arguments (a ValueError), integers too large to bind, and
# values or results past the site's limits (a DataError: see loader/limits.py).
OUT_OF_MEMORY = f"the query needs more memory than the site gives SQLite ({SQLITE_HEAP_BYTES // 1_000_000} MB a process)"
INPUT_ERRORS = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.DataError, ValueError, OverflowError)


def is_bad_request(exception: BaseException, request) -> bool:
    if isinstance(exception, MemoryError):  # SQLite past its heap limit in a server process (loader/limits.py)
        return True
    if isinstance(exception, DatasetteError):
        return exception.status == 500  # raised on purpose about the request, with the default status
    if isinstance(exception, TypeError):  # `_through` that is JSON but not an object: Datasette indexes into it
        return "_through" in request.args
    return isinstance(exception, INPUT_ERRORS)


@hookimpl
def handle_exception(datasette, request, exception):
    if not is_bad_request(exception, request):
        return None
    reason = getattr(exception, "message", None) or str(exception) or OUT_OF_MEMORY
    return datasette_error_page(datasette, request, BadRequest(f"Invalid request: {reason}"))
