"""Hostile titles, abstracts and URLs are shown as text on every page.

A dump carrying HTML and JavaScript payloads is loaded into a real database;
every page that shows them must escape them, and the markup we add ourselves
(highlights, links) must still work around them.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ElementTree
from urllib.parse import quote

import feedparser
import pytest

from loader.build import build
from loader.site import datasette_instance

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
TITLE = f"Probing {SCRIPT} attacks"
ABSTRACT = (
    f"We study probing {IMG} and \"quotes\" & ampersands. Code: https://github.com/evil/repo\"><script>alert(3)</script> "
    "and javascript:alert(4) and https://example.org/<b>bold</b> and https://github.com/good/repo."
)
DUMP = f"""new

Subscribe

byAK and the research community

Jan 8

{TITLE}

{ABSTRACT}

  • 3 authors
·
Feb 7, 2024 5

Second paper about probing

Plain abstract on probing models, with {SCRIPT} in it too.

<svg onload=alert(5)> Org
·
Mar 1, 2024
"""

RAW_PAYLOADS = (SCRIPT, IMG, "<svg onload", "<script>alert(3)", "<b>bold</b>", 'href="javascript:')


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xss")
    (folder / "hostile.txt").write_text(DUMP, encoding="utf-8")
    db = folder / "papers.db"
    build(db, [folder / "hostile.txt"])
    with sqlite3.connect(db) as conn:
        paper_id = conn.execute("select id from papers where title = ?", [TITLE]).fetchone()[0]
    return datasette_instance(db), paper_id


def assert_escaped(html: str, where: str) -> None:
    for payload in RAW_PAYLOADS:
        assert payload not in html, (where, payload)


async def pages(hostile):
    site, paper_id = hostile
    return {
        "home": "/",
        "table": "/papers/papers",
        "table search": "/papers/papers?_search=probing",
        "row": f"/papers/papers/{paper_id}",
        "links": "/papers/links",
        "repos": "/papers/repos",
        "appearances": "/papers/appearances",
        "search": "/papers/search?q=probing",
        "search script": "/papers/search?q=" + SCRIPT,
        "papers_with_code": "/papers/papers_with_code",
        "seen": "/papers/seen_in_several_listings",
        "top": "/papers/top_upvoted",
        "related": f"/papers/related?id={paper_id}",
        "raw sql": "/papers?sql=select+title,+abstract+from+papers",
        "raw sql snippet": "/papers?sql=" + "select+'" + SCRIPT.replace(" ", "+") + "'+as+snippet,+char(2)+||+'<b>x'+||+char(3)+as+code_urls",
        "organisation facet": "/papers/papers?_facet=organisation",
        "new papers": "/papers/new_papers?q=probing",
        "new in latest": "/papers/new_in_latest",
        "most re-listed": "/papers/most_relisted",
        "rising": "/papers/rising",
        "trends": "/-/dashboards/trends",
        "trends with filters": "/-/dashboards/trends?year_from=" + quote(SCRIPT) + "&year_to=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "listing": "/papers/dumps/hostile~2Etxt",
    }


SHOW_TITLE = {"table", "table search", "row", "search", "papers_with_code", "top", "raw sql", "appearances", "new papers", "new in latest"}
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def test_every_page_escapes_the_payloads(hostile):
    site, _ = hostile
    for where, path in (await pages(hostile)).items():
        response = await site.client.get(path)
        assert response.status_code == 200, (where, response.status_code)
        assert_escaped(response.text, where)
        if where in SHOW_TITLE:  # the payload is really on the page, as text
            assert ESCAPED_SCRIPT in response.text, where
    facet = (await site.client.get("/papers/papers", params={"_facet": "organisation"})).text
    assert "&lt;svg onload=alert(5)&gt; Org" in facet


@pytest.mark.parametrize("q", ["probing", "prob*"])
async def test_search_marks_words_around_escaped_text(hostile, q):
    site, _ = hostile
    html = (await site.client.get("/papers/search", params={"q": q})).text
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<mark>probing</mark>" in html


async def test_links_only_for_clean_http_urls(hostile):
    site, paper_id = hostile
    html = (await site.client.get(f"/papers/papers/{paper_id}")).text
    assert '<a href="https://github.com/good/repo" rel="noopener nofollow">' in html
    assert '<a href="https://github.com/evil/repo" rel="noopener nofollow">' in html  # cut at the quote
    assert "javascript:alert(4)" not in html.split("Code and links")[1].split("Listings")[0]


async def test_raw_sql_cannot_produce_markup(hostile):
    site, _ = hostile
    response = await site.client.get(
        "/papers", params={"sql": f"select '{SCRIPT}' as snippet, 'javascript:alert(1)' as url, '[\"javascript:x\"]' as code_urls"}
    )
    assert response.status_code == 200
    assert SCRIPT not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert 'href="javascript:' not in response.text


async def test_json_keeps_the_text_as_it_was(hostile):
    site, paper_id = hostile
    row = (await site.client.get(f"/papers/papers/{paper_id}.json", params={"_shape": "array"})).json()[0]
    assert row["title"] == TITLE


async def test_feeds_carry_titles_and_abstracts_as_text(hostile):
    """A title holding markup is escaped in the feed's XML, and a reader gets the title back as written."""
    site, paper_id = hostile
    for path in ("/papers/new_papers.atom?q=probing", "/papers/new_in_latest.atom"):
        response = await site.client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.text, path)
        atom = "{http://www.w3.org/2005/Atom}"
        entries = {entry.find(f"{atom}id").text: entry for entry in ElementTree.fromstring(response.content).iter(f"{atom}entry")}
        entry = entries[f"tag:daily-papers-search,2025:paper/{paper_id}"]
        assert entry.find(f"{atom}title").text == TITLE
        assert entry.find(f"{atom}content").text == ABSTRACT and entry.find(f"{atom}content").get("type") == "text"
        parsed = feedparser.parse(response.content, response_headers={"content-type": response.headers["content-type"]})
        assert not parsed.bozo
        [read] = [e for e in parsed.entries if e.id == f"tag:daily-papers-search,2025:paper/{paper_id}"]
        assert read.title_detail.type == "text/plain" and SCRIPT in read.title
