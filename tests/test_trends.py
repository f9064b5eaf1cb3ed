"""The Trends dashboard and its saved queries: what is rising, what is new, and the counts behind the charts.

Every test talks to the real site over real databases: data/ (`papers_db`), and
3,000 synthetic papers (`synthetic_db`), whose re-listed papers gain upvotes.
What each query should answer is counted here, in Python, from the
appearances, dumps, papers and links, not from the summary tables the queries read.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from loader.dashboard import PATH, TRENDS, chart_data_paths, chart_queries, dashboards
from loader.site import METADATA, datasette_instance
from plugins.fair_share import is_ad_hoc
from tests.conftest import ROOT

METADATA_YAML = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
QUERIES = METADATA_YAML["databases"]["papers"]["queries"]
RANGES = [(0, 0), (1, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, 199), (200, None)]


@pytest.fixture(scope="module")
def synthetic(synthetic_db):
    return datasette_instance(synthetic_db)


@pytest.fixture(scope="module")
def real(papers_db):
    return datasette_instance(papers_db)


def rows(db: Path, query: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        found = conn.execute(query, params).fetchall()
    conn.close()
    return found


async def answer(site, name: str, **params) -> list[dict]:
    response = await site.client.get(f"/papers/{name}.json", params={"_shape": "array", **params})
    assert response.status_code == 200, (name, params, response.text[:300])
    return response.json()


def in_years(year: int | None, year_from: str, year_to: str) -> bool:
    """What the queries' `(:year_from = '' or year >= cast(:year_from as integer))` keeps, for digits."""
    if year_from and (year is None or year < int(year_from)):
        return False
    return not (year_to and (year is None or year > int(year_to)))


def capture_order(db: Path) -> dict[str, tuple]:
    """Each listing's place in time: listings of unknown year first (by name), then by capture date."""
    return {name: (capture is not None, capture or "", name) for name, capture in rows(db, "select name, capture_date from dumps")}


def growth_by_paper(db: Path) -> dict[int, tuple]:
    """Each paper shown with upvotes twice or more: (first count, its listing, last count, its listing)."""
    order = capture_order(db)
    counted: dict[int, list[tuple]] = {}
    for paper, dump, position, upvotes in rows(db, "select paper_id, dump, position, upvotes from appearances where upvotes is not null"):
        counted.setdefault(paper, []).append((*order[dump], position, upvotes))
    found = {}
    for paper, shown in counted.items():
        if len(shown) >= 2:
            first, last = min(shown), max(shown)
            found[paper] = (first[4], first[2], last[4], last[2])
    return found


@pytest.mark.parametrize("year_from, year_to", [("", ""), ("2024", ""), ("", "2023"), ("2025", "2025")])
async def test_rising_lists_the_papers_whose_upvotes_grew_most(synthetic, synthetic_db, year_from, year_to):
    years = dict(rows(synthetic_db, "select id, published_year from papers"))
    titles = dict(rows(synthetic_db, "select id, title from papers"))
    dates = {name: capture or page for name, capture, page in rows(synthetic_db, "select name, capture_date, page_date from dumps")}
    grown = {paper: g for paper, g in growth_by_paper(synthetic_db).items() if g[2] > g[0] and in_years(years[paper], year_from, year_to)}
    expected = sorted(grown, key=lambda paper: (grown[paper][2] - grown[paper][0], paper), reverse=True)
    found = await answer(synthetic, "rising", year_from=year_from, year_to=year_to)
    assert [row["id"] for row in found] == expected
    for rank, row in enumerate(found, 1):
        first, first_listing, last, last_listing = grown[row["id"]]
        assert row == {
            "rank": rank, "id": row["id"], "title": titles[row["id"]], "year": years[row["id"]],
            "first_upvotes": first, "first_listed": dates[first_listing],
            "last_upvotes": last, "last_listed": dates[last_listing], "growth": last - first,
        }
    if (year_from, year_to) == ("", ""):
        assert len(found) >= 5  # the synthetic listings show papers gaining upvotes


async def test_no_paper_of_data_rises(real, papers_db):
    """data/ shows five papers' upvotes twice, unchanged: nothing rose."""
    assert len(growth_by_paper(papers_db)) == 5
    assert await answer(real, "rising") == []


@pytest.mark.parametrize("database", ["papers_db", "synthetic_db"])
@pytest.mark.parametrize("year_from, year_to", [("", ""), ("2024", "")])
async def test_new_in_latest_lists_what_the_latest_listing_showed_first(request, database, year_from, year_to):
    db = request.getfixturevalue(database)
    site = datasette_instance(db)
    order = capture_order(db)
    latest = max(order, key=lambda name: (order[name][0], order[name][1], name))  # a dated one before any undated
    years = dict(rows(db, "select id, published_year from papers"))
    seen_before = {paper for paper, dump in rows(db, "select paper_id, dump from appearances") if order[dump] < order[latest] and order[dump][0]}
    expected = [
        paper
        for paper, position in rows(db, "select paper_id, position from appearances where dump = ? order by position", [latest])
        if paper not in seen_before and in_years(years[paper], year_from, year_to)
    ]
    found = await answer(site, "new_in_latest", year_from=year_from, year_to=year_to)
    assert [row["id"] for row in found] == expected[:100] and expected
    assert [row["position"] for row in found] == sorted(row["position"] for row in found)


@pytest.mark.parametrize("year_from, year_to", [("", ""), ("2023", "2024"), ("1900", "1901")])
async def test_papers_per_year_and_the_upvote_ranges(synthetic, synthetic_db, year_from, year_to):
    papers = [p for p in rows(synthetic_db, "select published_year, has_code, latest_upvotes from papers") if in_years(p[0], year_from, year_to)]
    per_year = await answer(synthetic, "papers_per_year", year_from=year_from, year_to=year_to)
    expected = {}
    for year, has_code, _ in papers:
        total, code = expected.get(year, (0, 0))
        expected[year] = (total + 1, code + has_code)
    assert {row["year"]: (row["papers"], row["with_code"]) for row in per_year} == expected
    assert all(row["percent_with_code"] == round(100 * row["with_code"] / row["papers"], 1) for row in per_year)
    ranges = await answer(synthetic, "upvote_distribution", year_from=year_from, year_to=year_to)
    counts = [sum(low <= (upvotes or 0) and (high is None or (upvotes or 0) <= high) for _, _, upvotes in papers) for low, high in RANGES]
    assert [row["papers"] for row in ranges] == counts
    assert [row["upvotes"] for row in ranges] == ["0", "1-4", "5-9", "10-19", "20-49", "50-99", "100-199", "200+"]
    if year_from == "1900":
        assert per_year == [] and sum(counts) == 0


async def test_top_owners_count_distinct_papers_per_owner(synthetic, synthetic_db):
    owners: dict[str, tuple[set, set]] = {}
    for repo, paper in rows(synthetic_db, "select repo_id, paper_id from links where repo_id is not null"):
        repos, papers = owners.setdefault(repo.rsplit("/", 1)[0], (set(), set()))
        repos.add(repo)
        papers.add(paper)
    expected = sorted(((-len(p), -len(r), key) for key, (r, p) in owners.items()))[:100]
    found = await answer(synthetic, "top_owners")
    assert [(row["papers"], row["repos"]) for row in found] == [(-p, -r) for p, r, _ in expected]
    assert [row["owner"].lower() for row in found] == [key.split("/", 1)[1] for _, _, key in expected]
    assert found[0]["papers"] > found[-1]["papers"] >= 1


@pytest.mark.parametrize("year_from, year_to", [("", ""), ("2022", "2023")])
async def test_most_relisted_ranks_papers_by_listings(synthetic, synthetic_db, year_from, year_to):
    listings: dict[int, set] = {}
    for paper, dump in rows(synthetic_db, "select paper_id, dump from appearances"):
        listings.setdefault(paper, set()).add(dump)
    years = dict(rows(synthetic_db, "select id, published_year from papers"))
    expected = sorted(  # ties: the higher id first
        ((len(dumps), paper) for paper, dumps in listings.items() if len(dumps) >= 2 and in_years(years[paper], year_from, year_to)),
        reverse=True,
    )[:100]
    found = await answer(synthetic, "most_relisted", year_from=year_from, year_to=year_to)
    assert [(row["id"], row["listings"]) for row in found] == [(paper, count) for count, paper in expected]
    assert len(found) == 100 or year_from
    assert found[0]["listings"] >= 3


async def test_recent_listings_count_the_papers_each_showed_and_showed_first(synthetic, synthetic_db):
    order = capture_order(synthetic_db)
    newest = sorted(order, key=lambda name: order[name], reverse=True)  # dated ones first, newest first
    expected = sorted((name for name in order if order[name][0]), key=lambda name: order[name], reverse=True)
    expected += sorted((name for name in order if not order[name][0]), reverse=True)
    shown: dict[str, set] = {}
    for paper, dump in rows(synthetic_db, "select paper_id, dump from appearances"):
        shown.setdefault(dump, set()).add(paper)
    first = {}
    for name in sorted(order, key=lambda name: order[name] if order[name][0] else (True, "\uffff", name)):
        for paper in shown[name]:
            first.setdefault(paper, name)
    found = await answer(synthetic, "recent_listings")
    assert [row["name"] for row in found] == expected[:30] and newest
    for row in found:
        assert row["papers"] == len(shown[row["name"]])
        assert row["added_papers"] == sum(name == row["name"] for name in first.values())
    dated_2025 = await answer(synthetic, "recent_listings", year_from="2025", year_to="2025")
    assert {row["name"] for row in dated_2025} == {row["name"] for row in found if row["captured"].startswith("2025")}


def test_every_chart_reads_a_saved_query_that_takes_the_filters_as_parameters():
    """Each chart's SQL is a saved query's (one text: a visitor can read the chart as a table), and none
    uses datasette-dashboards' [[ ]] parts, so plugins/fair_share.py knows every chart's SQL as the site's own."""
    dashboard = dashboards(METADATA_YAML)[TRENDS]
    saved = {query["sql"] for query in QUERIES.values()}
    assert len(dashboard["charts"]) == 8
    for slug, chart in dashboard["charts"].items():
        assert chart["query"] in saved, slug
        assert "[[" not in chart["query"], slug
        assert chart["display"]["usermeta"]["embedOptions"]["renderer"] == "svg", slug


@pytest.mark.parametrize("database", ["papers_db", "synthetic_db"])
async def test_the_dashboard_page_and_every_charts_data_answer(request, database):
    site = datasette_instance(request.getfixturevalue(database))
    page = await site.client.get(PATH)
    assert page.status_code == 200
    for slug in dashboards(METADATA_YAML)[TRENDS]["charts"]:
        assert f'id="chart-{slug}"' in page.text
    for filters in ({}, {"year_from": "2023", "year_to": "2025"}):
        for slug, path in chart_data_paths(METADATA_YAML, filters).items():
            response = await site.client.get(path)
            assert response.status_code == 200, (slug, response.text[:300])
            if database == "synthetic_db":
                assert response.json()["rows"], (slug, filters)
    # every script the page loads is the site's own
    assert not re.findall(r'<script[^>]+src="(?!/)', page.text) and not re.findall(r'<link[^>]+href="(?!/)', page.text)


def test_the_home_page_and_the_readme_link_the_dashboard_and_the_feeds():
    home = (ROOT / "templates" / "index.html").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for link in (PATH, "/papers/new_papers.atom", "/papers/new_in_latest", "/papers/rising"):
        assert link in home and link in readme, link


def test_only_the_dashboards_own_sql_skips_the_queue():
    own = chart_queries(dashboards(METADATA_YAML))
    chart = chart_data_paths(METADATA_YAML, {"year_from": "2024"})["rising"]
    assert not is_ad_hoc({"type": "http", "query_string": chart.split("?", 1)[1].encode()}, own)
    changed = chart.replace("limit%20100", "limit%20101")
    assert is_ad_hoc({"type": "http", "query_string": changed.split("?", 1)[1].encode()}, own)
    assert is_ad_hoc({"type": "http", "query_string": b"sql=select+1"}, own)


async def test_two_visitors_charts_are_drawn_while_a_visitors_own_sql_holds_its_turn(synthetic):
    """Sixteen chart queries at once (two visitors opening the dashboard) with a runaway query of a visitor's
    own holding the one turn ad hoc SQL gets: none waits for it, none is refused (429)."""
    runaway = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    slow = asyncio.create_task(synthetic.client.get("/papers.json", params={"sql": runaway}))
    await asyncio.sleep(0.3)
    paths = list(chart_data_paths(METADATA_YAML).values()) * 2
    responses = await asyncio.gather(*(synthetic.client.get(path) for path in paths))
    assert [response.status_code for response in responses] == [200] * len(paths)
    assert not slow.done()  # answered while the runaway query still held its turn (it runs 1.5 s)
    assert (await slow).status_code == 400
