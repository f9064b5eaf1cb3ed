"""Hard limits on every connection to the site's database, and a budget for what one query returns.

The limits and why each is what it is are declared once, in `loader/limits.py`.
"""

from __future__ import annotations

from datasette import hookimpl

from loader.limits import ClosingCursorsExecutor, ResultBudget, apply_limits


@hookimpl
def prepare_connection(conn, database):
    if database == "_internal":  # Datasette's own catalogue: written by Datasette, never queried by a visitor
        return
    apply_limits(conn)
    conn.row_factory = ResultBudget()


@hookimpl
def startup(datasette):
    """Datasette's SQL threads become ones that close a failed query's cursors (`ClosingCursorsExecutor`)."""
    threads = datasette.setting("num_sql_threads")
    if threads and not isinstance(datasette.executor, ClosingCursorsExecutor):
        unused, datasette.executor = datasette.executor, ClosingCursorsExecutor(max_workers=threads)
        if unused is not None:
            unused.shutdown(wait=False)
