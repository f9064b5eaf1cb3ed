"""Atom feeds: every search can be followed, and so can every listing.

Feeds come from the real site (`loader.site.datasette_instance`, with
datasette-atom and plugins/feeds.py) over databases built from data/, and are
read with feedparser, as a feed reader would. What each feed should hold is
worked out here from the appearances and dumps in Python, and which papers a
word finds by a pattern over their text, as in test_site.py.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import feedparser
import pytest
import yaml

from loader.build import build
from loader.site import METADATA, datasette_instance
from tests.test_hostile import HOSTILE

BASE = "http://localhost"  # the host Datasette's test client answers as
TAG = "tag:daily-papers-search,2025:paper/"
NEWEST = "000_cb7cd7af2323319e.txt"  # captured 2026-01-08, the latest listing of data/ (by its own printed years)
# Stemming makes "distillation" find distil, distill, distilled, ... (test_site.py); fewer than 50 papers.
DISTILLATION = re.compile(r"\bdistill?(ation|ations|ed|ing|s)?\b", re.I)
VISION = re.compile(r"\bvisions?\b", re.I)


@pytest.fixture(scope="module")
def site(papers_db):
    return datasette_instance(papers_db)


async def read_feed(site, path: str) -> feedparser.FeedParserDict:
    """The feed at `path`, parsed as a reader that fetched it from BASE would: well formed, or the test fails."""
    response = await site.client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/xml")
    headers = {"content-type": response.headers["content-type"], "content-location": BASE + path}
    feed = feedparser.parse(response.content, response_headers=headers)
    assert not feed.bozo, (path, feed.get("bozo_exception"))
    assert feed.version == "atom10"
    return feed


def paper_facts(db: Path) -> dict[int, dict]:
    """Each paper's text, first listing and feed date, from the appearances and dumps.

    The first listing is the earliest one with a known capture date (by date, then name), or the
    first by name when no listing's year is known; the date is that capture date, else the paper's
    publication date, else (no date at all) the moment that listing was loaded.
    """
    with sqlite3.connect(db) as conn:
        dumps = {name: (capture, loaded) for name, capture, loaded in conn.execute("select name, capture_date, loaded_at from dumps")}
        listings: dict[int, set[str]] = {}
        for paper, dump in conn.execute("select paper_id, dump from appearances"):
            listings.setdefault(paper, set()).add(dump)
        rows = conn.execute("select id, title, abstract, published from papers").fetchall()
    conn.close()
    facts = {}
    for paper, title, abstract, published in rows:
        dated = sorted((dumps[name][0], name) for name in listings[paper] if dumps[name][0])
        first = dated[0][1] if dated else min(listings[paper])
        day = dated[0][0] if dated else published
        facts[paper] = {
            "title": title,
            "text": f"{title} {abstract}",
            "abstract": abstract,
            "first_listing": first,
            "day": day,  # None: no date known
            "updated": datetime.fromisoformat(f"{day}T00:00:00+00:00" if day else dumps[first][1]),
        }
    return facts


def rows_of(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        found = conn.execute(sql).fetchall()
    conn.close()
    return found


def newest_first(facts: dict[int, dict], papers) -> list[int]:
    """Papers by date, newest first (ties: higher id first), those with no date known last."""
    return sorted(papers, key=lambda paper: (facts[paper]["day"] is not None, facts[paper]["day"] or "", paper), reverse=True)


def updated(entry) -> datetime:
    return datetime(*entry.updated_parsed[:6], tzinfo=timezone.utc)


def entry_ids(feed) -> list[int]:
    ids = []
    for entry in feed.entries:
        assert entry.id.startswith(TAG), entry.id
        ids.append(int(entry.id.removeprefix(TAG)))
    return ids


async def test_a_search_feed_holds_what_the_words_find_newest_first(site, papers_db):
    facts = paper_facts(papers_db)
    expected = newest_first(facts, [paper for paper, fact in facts.items() if DISTILLATION.search(fact["text"])])
    assert 10 < len(expected) < 50 and any(facts[paper]["day"] is None for paper in expected)
    path = "/papers/new_papers.atom?q=distillation"
    feed = await read_feed(site, path)
    assert feed.feed.title == "New papers"
    assert feed.feed.id == BASE + path and feed.feed.link == BASE + path
    assert entry_ids(feed) == expected
    for paper, entry in zip(expected, feed.entries):
        fact = facts[paper]
        assert entry.title == fact["title"]
        assert entry.content[0].value == fact["abstract"] and entry.content[0].type == "text/plain"
        assert updated(entry) == fact["updated"], (paper, entry.updated)
        # the link is relative, to the paper's page wherever the feed is served; readers resolve it
        assert entry.link == f"{BASE}/papers/papers/{paper}"
        page = await site.client.get(urlsplit(entry.link).path)
        assert page.status_code == 200 and f"<h1 class=\"paper-title\">{fact['title']}</h1>" in page.text


async def test_the_filters_narrow_a_feed_as_they_narrow_the_search(site, papers_db):
    facts = paper_facts(papers_db)
    with sqlite3.connect(papers_db) as conn:
        years = dict(conn.execute("select id, published_year from papers"))
        with_code = {paper for (paper,) in conn.execute("select id from papers where has_code = 1")}
    conn.close()
    matching = [paper for paper, fact in facts.items() if DISTILLATION.search(fact["text"])]
    recent = [paper for paper in matching if years[paper] is not None and 2024 <= years[paper] <= 2025]
    coded = [paper for paper in matching if paper in with_code]
    assert 0 < len(recent) < len(matching) and 0 < len(coded) < len(matching)
    feed = await read_feed(site, "/papers/new_papers.atom?q=distillation&year_from=2024&year_to=2025")
    assert entry_ids(feed) == newest_first(facts, recent)
    feed = await read_feed(site, "/papers/new_papers.atom?q=distillation&has_code=1")
    assert entry_ids(feed) == newest_first(facts, coded)


async def test_without_a_query_the_feed_is_the_fifty_newest_papers(site, papers_db):
    facts = paper_facts(papers_db)
    feed = await read_feed(site, "/papers/new_papers.atom")
    assert entry_ids(feed) == newest_first(facts, facts)[:50]


@pytest.mark.parametrize("years", [{}, {"year_from": "2023"}, {"year_from": "2020", "year_to": "2024"}])
async def test_a_common_word_walks_the_newest_papers_and_finds_the_same(site, papers_db, years):
    """A query with more matches than the feed sorts (10,000) walks the papers by date instead (with
    years asked for, each year's). Here the saved query's SQL runs with that bound at 20, so that
    "vision" (63 papers) walks."""
    facts = paper_facts(papers_db)
    published = dict(rows_of(papers_db, "select id, published_year from papers"))
    sql = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["papers"]["queries"]["new_papers"]["sql"]
    assert sql.count("10000") == 2  # the count of matches stops there, and walks when it gets there
    params = {"q": "vision", "year_from": "", "year_to": "", "has_code": "", **years, "_shape": "array"}
    response = await site.client.get("/papers.json", params={"sql": sql.replace("10000", "20"), **params})
    assert response.status_code == 200, response.text[:300]
    matching = [
        paper
        for paper, fact in facts.items()
        if VISION.search(fact["text"])
        and (not years or published[paper] is not None and int(years["year_from"]) <= published[paper] <= int(years.get("year_to", 9999)))
    ]
    expected = newest_first(facts, matching)
    assert len(expected) > 20 and [row["id"] for row in response.json()] == expected[:50]


async def test_a_listings_feed_holds_the_papers_it_showed_first(site, papers_db):
    facts = paper_facts(papers_db)
    for listing in ("002_073c856badb15984.txt", "001_aac3630fa6cd08cf.txt"):
        feed = await read_feed(site, f"/papers/new_in_latest.atom?listing={listing}")
        expected = {paper for paper, fact in facts.items() if fact["first_listing"] == listing}
        assert sorted(entry_ids(feed)) == sorted(expected) and expected
    latest = await read_feed(site, "/papers/new_in_latest.atom")
    assert sorted(entry_ids(latest)) == sorted(paper for paper, fact in facts.items() if fact["first_listing"] == NEWEST)
    assert all(updated(entry) == datetime(2026, 1, 8, tzinfo=timezone.utc) for entry in latest.entries)


@pytest.mark.parametrize("value", HOSTILE)
async def test_any_parameter_gives_a_feed_if_an_empty_one(site, value):
    for parameter in ("q", "year_from", "year_to", "has_code"):
        assert (await read_feed(site, f"/papers/new_papers.atom?{parameter}={quote(value)}")).feed.title == "New papers"
    assert (await read_feed(site, f"/papers/new_in_latest.atom?listing={quote(value)}")).entries == []


async def test_a_search_that_finds_nothing_is_an_empty_feed_to_follow(site):
    feed = await read_feed(site, "/papers/new_papers.atom?q=zzzqqxnothing")
    assert feed.entries == [] and feed.feed.title == "New papers"
    assert feed.feed.id == f"{BASE}/papers/new_papers.atom?q=zzzqqxnothing"


async def test_the_search_page_and_each_listing_page_link_their_feeds(site):
    html = (await site.client.get("/papers/search", params={"q": "distillation", "year_from": "2024", "has_code": "1"})).text
    announced = re.search(r'<link rel="alternate" type="application/atom\+xml" href="([^"]+)"', html).group(1)
    visible = re.search(r'<a class="feed-link" href="([^"]+)"', html).group(1)
    assert announced == visible
    url = urlsplit(announced.replace("&amp;", "&"))
    assert url.path == "/papers/new_papers.atom"
    assert parse_qs(url.query) == {"q": ["distillation"], "year_from": ["2024"], "has_code": ["1"]}
    assert (await read_feed(site, f"{url.path}?{url.query}")).entries
    listing = "002_073c856badb15984.txt"
    html = (await site.client.get(f"/papers/dumps/{listing.replace('.', '~2E')}")).text
    announced = re.search(r'<link rel="alternate" type="application/atom\+xml" href="([^"]+)"', html).group(1)
    assert announced == f"/papers/new_in_latest.atom?listing={listing}"
    assert f'<a class="feed-link" href="{announced}"' in html
    assert len((await read_feed(site, announced)).entries) == 75  # every paper of 002 was new there (test_site: only_here)


async def test_a_rebuild_that_adds_a_listing_puts_its_new_papers_at_the_top(tmp_path, data_copy):
    held_back = tmp_path / NEWEST
    shutil.move(data_copy / NEWEST, held_back)
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    before = entry_ids(await read_feed(datasette_instance(db), "/papers/new_papers.atom?q=vision"))
    shutil.move(held_back, data_copy / NEWEST)
    build(db, [data_copy])
    facts = paper_facts(db)
    added = {paper for paper, fact in facts.items() if fact["first_listing"] == NEWEST and VISION.search(fact["text"])}
    assert len(added) >= 3 and not added & set(before)
    after = entry_ids(await read_feed(datasette_instance(db), "/papers/new_papers.atom?q=vision"))
    assert set(after[: len(added)]) == added
    assert after[len(added):] == [paper for paper in before if paper in after[len(added):]]  # the rest keep their order
