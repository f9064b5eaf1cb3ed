"""Atom feeds (`.atom`) by datasette-atom, and an empty feed where a query finds nothing.

datasette-atom 0.9 dates a feed by its newest entry, `max()` of the rows,
which fails when there are none: a search that finds nothing yet (or a
visitor's nonsense) would answer an error instead of a feed a reader can
subscribe to and that fills as listings arrive. So this module registers the
`.atom` renderer in datasette-atom's place (`trylast`: registered after it, so
this one is kept) and hands it every result with rows; without rows it makes
the feed datasette-atom would, with no entries: the same id, self link and
title, dated now.

It also gives templates `query_path`, the path of a saved query (or of its
feed) with the parameters a page has set: the search page and each listing's page link
their feeds with it (`templates/_feed.html`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response
from datasette_atom import can_render_atom, render_atom
from feedgen.feed import FeedGenerator


async def feed_title(datasette, request, sql: str, database: str, query_name: str | None) -> str:
    """A saved query's title, as datasette-atom takes it; for other SQL the SQL itself."""
    if query_name:
        query = await datasette.get_canned_query(database, query_name, request.actor)
        if query and "title" in query:
            return query["title"]
    return request.args.get("_feed_title", sql)


def empty_feed(url: str, title: str) -> bytes:
    feed = FeedGenerator()
    feed.id(url)
    feed.link(href=url, rel="self")
    feed.title(title)
    return feed.atom_str(pretty=True)


async def render_feed(datasette, request, sql, columns, rows, database, table, query_name, view_name, data):
    if rows or not can_render_atom(columns):  # datasette-atom's own error for SQL without the atom_ columns
        return render_atom(datasette, request, sql, columns, rows, database, table, query_name, view_name, data)
    title = await feed_title(datasette, request, sql, database, query_name)
    return Response(empty_feed(request.url, title), content_type="application/xml; charset=utf-8")


@hookimpl(trylast=True)
def register_output_renderer():
    return {"extension": "atom", "render": render_feed, "can_render": can_render_atom}


def query_path(query_name: str, extension: str = "", **parameters: str | None) -> str:
    """The path of a saved query (`extension` ".atom" for its feed), with the parameters that have a value."""
    given = {name: value for name, value in parameters.items() if value}
    return f"/papers/{query_name}{extension}" + (f"?{urlencode(given)}" if given else "")


@hookimpl
def prepare_jinja2_environment(env):
    env.globals["query_path"] = query_path
