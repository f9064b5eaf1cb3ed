"""Highlighted snippets: SQL marks matches with control characters, we turn them into <mark>.

The `search` query's snippets (`loader/snippets.py`) wrap matches in U+0002 and
U+0003, characters no abstract contains (the loader drops control characters). The
text is HTML-escaped first and only then are the markers replaced, so nothing
in an abstract can become markup. The filter is used only by the template of
the `search` query: a column that anyone's SQL could name is never trusted.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

from loader.snippets import MARK_END, MARK_START


def highlight(text: str | None) -> Markup:
    """Escape `text`, then show the marked matches as <mark>...</mark>."""
    escaped = str(escape(text or ""))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["highlight"] = highlight
