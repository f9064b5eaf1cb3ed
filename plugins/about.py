"""`/about`: the README, rendered, so the site's about link explains the project.

Raw HTML in the README is escaped (markdown-it's `html` option is off), so the
page shows only the markup Markdown itself produces.
"""

from __future__ import annotations

from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import Response
from markdown_it import MarkdownIt
from markupsafe import Markup

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_html(path: Path = README) -> Markup:
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(renderer.render(path.read_text(encoding="utf-8")))


async def about(datasette, request):
    html = await datasette.render_template("about.html", {"readme": readme_html()}, request=request)
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/about$", about)]
