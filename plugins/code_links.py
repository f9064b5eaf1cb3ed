"""Code and project URLs as real links, and only when they are http(s).

Datasette already links cells that look like URLs; this adds rel="noopener"
and refuses anything that is not http(s) (`javascript:` and friends stay
text). Cells are rendered this way only in the url columns of the `links` and
`repos` tables, whose values the loader cleaned; templates use the
`code_links` filter for the JSON list the search query returns.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from datasette import hookimpl
from markupsafe import Markup, escape

LINK_COLUMNS = {("links", "url"), ("repos", "url")}


def is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def link(url: str, text: str | None = None) -> Markup:
    """An escaped <a> for a web URL; anything else comes back as escaped text."""
    if not is_web_url(url):
        return Markup(escape(text if text is not None else url))
    label = text if text is not None else url.removeprefix("https://").removeprefix("http://")
    return Markup('<a href="{}" rel="noopener nofollow">{}</a>').format(url, label)


def code_links(value: str | None) -> Markup:
    """Render a JSON array of URLs (as the search query returns it) as links."""
    try:
        urls = json.loads(value or "[]")
    except (TypeError, ValueError):
        return Markup(escape(value or ""))
    if not isinstance(urls, list):
        return Markup(escape(value))
    return Markup(" ").join(link(url) for url in urls if isinstance(url, str))


@hookimpl
def render_cell(value, column, table):
    if (table, column) in LINK_COLUMNS and is_web_url(value):
        return link(value)
    return None


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["code_links"] = code_links
    env.filters["web_link"] = link
