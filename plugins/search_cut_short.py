"""A search cut off by the time limit answers with the search page and a sentence, not Datasette's error page.

Datasette answers a query stopped by `sql_time_limit_ms` with its "SQL
Interrupted" page, which shows the whole saved query's SQL and no search
form. The search is bounded so that no query a visitor can type should need
that (broad prefixes, `loader/prefixes.py`; phrase windows, `docs/search.md`);
should one still, the visitor gets the search page back with the form filled
in and a plain sentence (and the JSON, an error without SQL).
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

SEARCH_PATHS = ("/papers/search", "/papers/search.json")
MESSAGE = (
    "This search took longer than the site gives one search (1.5 s) and was stopped. "
    "Fewer words, fewer quoted phrases or a longer prefix will answer."
)


def is_cut_short(exception: BaseException) -> bool:
    return isinstance(exception, DatasetteError) and exception.title == "SQL Interrupted"


@hookimpl
def handle_exception(datasette, request, exception):
    if request.path not in SEARCH_PATHS or not is_cut_short(exception):
        return None

    async def page():
        if request.path.endswith(".json"):
            return Response.json({"ok": False, "error": MESSAGE, "status": 400}, status=400)
        form = {name: request.args.get(name, "") for name in ("q", "year_from", "year_to", "has_code")}
        html = await datasette.render_template("search-cut-short.html", {**form, "message": MESSAGE}, request=request)
        return Response.html(html)

    return page
