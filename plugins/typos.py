""""Did you mean": the search page offers the query with its misspelt words corrected, marked.

The correction itself (`loader/spelling.py`) is what the `search` saved query searches beside
the typed words; this hook only puts the suggested query above the results, as a link that keeps
the page's other parameters, also when nothing was found.
"""

from __future__ import annotations

from urllib.parse import urlencode

from datasette import hookimpl

from loader.spelling import of_connection

SEARCH_TEMPLATE = "query-papers-search.html"


def suggestion_href(args: list[tuple[str, str]], parts: list[tuple[str, bool]]) -> str:
    """The search page's query string with `q` replaced by the suggested query."""
    suggested = " ".join(text for text, _ in parts)
    return "?" + urlencode([(name, suggested if name == "q" else value) for name, value in args])


@hookimpl
def extra_template_vars(template, database, request, datasette):
    q = request.args.get("q") if request is not None else None
    if template != SEARCH_TEMPLATE or not q:
        return {}

    async def did_you_mean():
        parts = await datasette.get_database(database).execute_fn(lambda conn: of_connection(conn).suggestion_parts(q))
        if not parts:
            return {"did_you_mean": None}
        args = [(name, value) for name in request.args.keys() for value in request.args.getlist(name)]
        return {"did_you_mean": {"parts": parts, "href": suggestion_href(args, parts)}}

    return did_you_mean
