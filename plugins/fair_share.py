"""SQL that a visitor writes runs one query at a time, so it can never take every SQL thread.

Datasette runs every query on `num_sql_threads` threads (3 here, on two
cores). A visitor's own SQL (the SQL box, `_where`, raw full-text search) can
cost up to the time limit, and some of its work (an FTS5 prefix merge) cannot
even be interrupted: four clients looping on such queries would hold all three
threads, and the search would queue behind them. So such requests take turns
through one slot, `AD_HOC_AT_ONCE`; the saved queries (search among them) and
table pages keep the other threads. When more than `AD_HOC_WAITING` wait
already, a request is answered 429 at once instead of holding a connection.

The SQL of the dashboards' charts (`loader/dashboard.py`) arrives as `sql`
too, but it is the site's own, fixed text: it runs like a saved query. (A
dashboard draws eight charts at once; taking turns, a second visitor's
charts would be refused.)
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from datasette import hookimpl

from loader.dashboard import PLUGIN, chart_queries

AD_HOC_AT_ONCE = 1
AD_HOC_WAITING = 8
# Parameters that carry SQL (or raw FTS5 syntax) written by the visitor.
AD_HOC_PARAMETERS = frozenset({"sql", "_where", "_searchmode"})
BUSY_BODY = b"Too many of your own SQL queries are running at once; try again in a few seconds.\n"


def is_ad_hoc(scope: dict, own_sql: frozenset[str] = frozenset()) -> bool:
    """True for a request that carries SQL of the visitor's own: any SQL but `own_sql`, the site's."""
    if scope.get("type") != "http":
        return False
    query = scope.get("query_string", b"").decode("latin-1")
    return any(
        name in AD_HOC_PARAMETERS and not (name == "sql" and value in own_sql)
        for name, value in parse_qsl(query, keep_blank_values=True)
    )


class TakeTurns:
    """ASGI middleware: ad hoc requests pass `AD_HOC_AT_ONCE` at a time, `AD_HOC_WAITING` may wait."""

    def __init__(self, app, own_sql: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.own_sql = own_sql
        self.slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use
        self.waiting = 0

    async def __call__(self, scope, receive, send) -> None:
        if not is_ad_hoc(scope, self.own_sql):
            await self.app(scope, receive, send)
            return
        if self.slots is None:
            self.slots = asyncio.Semaphore(AD_HOC_AT_ONCE)
        if self.waiting >= AD_HOC_WAITING:
            await busy(send)
            return
        self.waiting += 1
        try:
            await self.slots.acquire()
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()


async def busy(send) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"2")]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": BUSY_BODY})


@hookimpl
def asgi_wrapper(datasette):
    own_sql = chart_queries(datasette.plugin_config(PLUGIN) or {})
    return lambda app: TakeTurns(app, own_sql)
