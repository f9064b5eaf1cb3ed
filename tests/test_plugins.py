"""The plugins' pure functions, imported directly."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from plugins.about import readme_html
from plugins.code_links import code_links, is_web_url, link
from plugins.highlight import highlight


def test_highlight_escapes_then_marks():
    assert highlight("a \x02<b>\x03 & c") == "a <mark>&lt;b&gt;</mark> &amp; c"
    assert highlight(None) == ""
    assert highlight("<script>") == "&lt;script&gt;"


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://github.com/a/b", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,x", False),
        ("//evil.example", False),
        ("https://", False),
        (None, False),
        (42, False),
    ],
)
def test_only_web_urls_become_links(url, ok):
    assert is_web_url(url) is ok


def test_link_markup():
    assert link("https://github.com/a/b") == '<a href="https://github.com/a/b" rel="noopener nofollow">github.com/a/b</a>'
    assert link('https://x.org/"onmouseover=1') == (
        '<a href="https://x.org/&#34;onmouseover=1" rel="noopener nofollow">x.org/&#34;onmouseover=1</a>'
    )
    assert link("javascript:alert(1)") == "javascript:alert(1)"


def test_code_links_from_json():
    assert code_links('["https://github.com/a/b", "javascript:x"]') == (
        '<a href="https://github.com/a/b" rel="noopener nofollow">github.com/a/b</a> javascript:x'
    )
    assert code_links("not json <b>") == "not json &lt;b&gt;"
    assert code_links('{"a": 1}') == "{&#34;a&#34;: 1}"
    assert code_links(None) == ""


def test_readme_renders_without_raw_html(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<script>alert(1)</script>\n\n`make serve`\n")
    html = readme_html(readme)
    assert "<h1>Title</h1>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<code>make serve</code>" in html


@pytest.mark.parametrize(
    "query, ad_hoc",
    [
        (b"sql=select+1", True),
        (b"_where=id%3D1", True),
        (b"_searchmode=raw&_search=x", True),
        (b"_size=5&sql=", True),  # present, even empty: Datasette reads it
        (b"q=select&_search=sql", False),  # the words, as values, are a visitor's text
        (b"_sort=title", False),
        (b"", False),
    ],
)
def test_ad_hoc_sql_is_told_by_its_parameters(query, ad_hoc):
    from plugins.fair_share import is_ad_hoc

    assert is_ad_hoc({"type": "http", "query_string": query}) is ad_hoc
    assert is_ad_hoc({"type": "websocket", "query_string": query}) is False
    assert is_ad_hoc({"type": "lifespan"}) is False


async def test_ad_hoc_requests_take_turns_and_past_the_waiting_room_get_429():
    """The middleware alone, in order of events: one ad hoc request at a time, eight waiting, the next
    answered 429 at once; other requests never wait; a slot freed lets the next one in."""
    import asyncio

    from plugins.fair_share import AD_HOC_AT_ONCE, AD_HOC_WAITING, BUSY_BODY, TakeTurns

    assert (AD_HOC_AT_ONCE, AD_HOC_WAITING) == (1, 8)
    started: list[str] = []
    release = {name: asyncio.Event() for name in [f"sql{n}" for n in range(10)] + ["table"]}

    async def app(scope, receive, send):
        name = scope["name"]
        assert receive is scope["receive"]  # the request's body reaches the site, waiting or not
        started.append(name)
        await release[name].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": name.encode()})

    middleware = TakeTurns(app)
    answers: dict[str, list[dict]] = {}

    def request(name: str, query: bytes) -> asyncio.Task:
        async def send(message):
            answers.setdefault(name, []).append(message)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "query_string": query, "name": name, "receive": receive}
        return asyncio.create_task(middleware(scope, receive, send))

    async def settle():
        for _ in range(20):
            await asyncio.sleep(0)

    tasks = {f"sql{n}": request(f"sql{n}", b"sql=select+1") for n in range(10)}
    await settle()
    assert started == ["sql0"]  # one at a time
    assert middleware.waiting == AD_HOC_WAITING  # sql1 to sql8 wait
    assert tasks["sql9"].done()  # and the tenth is answered at once
    start, body = answers["sql9"]
    assert (start["type"], start["status"], body["type"], body["body"]) == ("http.response.start", 429, "http.response.body", BUSY_BODY)
    assert start["headers"] == [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"2")]
    tasks["table"] = request("table", b"_sort=title")
    await settle()
    assert started == ["sql0", "table"]  # not ad hoc: it does not wait for the slot
    release["table"].set()
    release["sql0"].set()
    await settle()
    assert started == ["sql0", "table", "sql1"] and middleware.waiting == AD_HOC_WAITING - 1
    for name in [f"sql{n}" for n in range(1, 9)]:
        release[name].set()
    await asyncio.gather(*tasks.values())
    assert started == ["sql0", "table"] + [f"sql{n}" for n in range(1, 9)] and middleware.waiting == 0
    assert [answers[f"sql{n}"][1]["body"] for n in range(9)] == [f"sql{n}".encode() for n in range(9)]


def test_a_link_shows_its_text_or_its_url_without_the_scheme():
    assert link("https://github.com/a/b", "the code") == Markup('<a href="https://github.com/a/b" rel="noopener nofollow">the code</a>')
    assert link("http://example.org/x") == Markup('<a href="http://example.org/x" rel="noopener nofollow">example.org/x</a>')
    assert link("https://example.org/x") == Markup('<a href="https://example.org/x" rel="noopener nofollow">example.org/x</a>')


def test_only_the_time_limit_counts_as_a_search_cut_short():
    from datasette.views.base import DatasetteError

    from plugins.search_cut_short import is_cut_short

    assert is_cut_short(DatasetteError("took too long", title="SQL Interrupted", status=400))
    assert not is_cut_short(DatasetteError("no such table", title="Invalid SQL", status=400))
    assert not is_cut_short(ValueError("SQL Interrupted"))


def test_a_link_that_is_not_web_shows_its_text_escaped():
    assert link("javascript:alert(1)", "<b>click</b>") == Markup("&lt;b&gt;click&lt;/b&gt;")
    assert link("javascript:alert(1)") == Markup("javascript:alert(1)")


def test_what_counts_as_the_visitors_bad_request():
    import sqlite3
    from types import SimpleNamespace

    from datasette.views.base import DatasetteError

    from plugins.bad_requests import is_bad_request

    plain, through = SimpleNamespace(args={}), SimpleNamespace(args={"_through": "[1]"})
    assert is_bad_request(MemoryError(), plain)  # SQLite past the site's heap limit
    assert is_bad_request(DatasetteError("bad _sort"), plain) and not is_bad_request(DatasetteError("no", status=403), plain)
    assert is_bad_request(TypeError("list indices"), through) and not is_bad_request(TypeError("a bug"), plain)
    for error in (sqlite3.ProgrammingError(), sqlite3.InterfaceError(), sqlite3.DataError(), ValueError(), OverflowError()):
        assert is_bad_request(error, plain), error
    assert not is_bad_request(RuntimeError("a bug"), plain) and not is_bad_request(sqlite3.OperationalError("x"), plain)
