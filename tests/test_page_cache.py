"""The table pages answered from memory (plugins/page_cache.py), on a real site over real files.

Facet counts are checked against counts made here in Python over the table's rows; what the
cache holds is read from its own report, `/-/page-cache.json`.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from loader.build import build
from loader.site import datasette_instance

PAGES = ["/papers/papers", "/papers/papers.json", "/papers/repos", "/papers/repos.json", "/papers/appearances", "/papers/appearances.json"]
DEFAULT_FACETS = {
    "papers": ("published_year", "has_code", "organisation", "appearances"),
    "repos": ("owner", "host"),
    "appearances": ("dump",),
}


async def report(site) -> dict:
    return (await site.client.get("/-/page-cache.json")).json()


def counted_in_python(db: Path, table: str, column: str) -> Counter:
    """How many rows hold each value of `column`, counted over every row (NULLs left out, as a facet does)."""
    conn = sqlite3.connect(db)
    try:
        values = [value for (value,) in conn.execute(f"select {column} from {table}")]
    finally:
        conn.close()
    return Counter(value for value in values if value is not None)


async def facet_counts(site, table: str) -> dict[str, dict]:
    data = (await site.client.get(f"/papers/{table}.json", params={"_size": "1"})).json()
    return {name: {item["value"]: item["count"] for item in facet["results"]} for name, facet in data["facet_results"].items()}


def assert_facets_count_the_rows(facets: dict[str, dict], db: Path, table: str) -> None:
    assert set(facets) == set(DEFAULT_FACETS[table])
    for column, shown in facets.items():
        counted = counted_in_python(db, table, column)
        assert shown and all(counted[value] == count for value, count in shown.items()), column
        assert len(shown) == min(len(counted), 30), column  # every value, up to the facet size


async def test_a_repeated_table_page_is_the_same_answer_from_memory(papers_db):
    site = datasette_instance(papers_db)
    for page in PAGES:
        first = await site.client.get(page)
        before = await report(site)
        again = await site.client.get(page)
        assert first.status_code == again.status_code == 200, page
        assert again.content == first.content and again.headers["content-type"] == first.headers["content-type"], page
        assert (await report(site))["hits"] == before["hits"] + 1, page
    kept = await report(site)
    assert kept["entries"] == len(PAGES) and kept["bound_bytes"] == 33_554_432  # 32 MB, as the README says


@pytest.mark.parametrize("table", sorted(DEFAULT_FACETS))
async def test_the_default_facets_count_the_rows_first_and_from_memory(papers_db, table):
    site = datasette_instance(papers_db)
    first = await facet_counts(site, table)
    assert_facets_count_the_rows(first, papers_db, table)
    hits = (await report(site))["hits"]
    assert await facet_counts(site, table) == first
    assert (await report(site))["hits"] == hits + 1


async def test_other_pages_and_requests_of_one_visitor_are_neither_kept_nor_served_from_memory(papers_db):
    site = datasette_instance(papers_db)
    asked = [
        ("/papers/papers", {}, {"cookies": {"ds_actor": "someone"}}),
        ("/papers/papers", {}, {"headers": {"Authorization": "Bearer x"}}),
        ("/papers/dumps", {}, {}),  # not a page it keeps
        ("/papers/search", {"q": "probing"}, {}),
        ("/papers/papers.json", {"_sort": "no_such_column"}, {}),  # a 400
    ]
    for _ in range(2):
        for path, params, visitor in asked:
            response = await site.client.get(path, params=params, **visitor)
            assert response.status_code in (200, 400), path
    seen = await report(site)
    assert seen["entries"] == 0 and seen["hits"] == 0


async def test_past_its_bound_it_forgets_the_least_recently_used(papers_db):
    page = len((await datasette_instance(papers_db).client.get("/papers/repos.json", params={"_size": "1"})).content)
    bound = 5 * page
    site = datasette_instance(papers_db, plugin_config={"page-cache": {"max_bytes": bound}})
    for size in range(1, 11):
        assert (await site.client.get("/papers/repos.json", params={"_size": str(size)})).status_code == 200
        assert (await report(site))["bytes"] <= bound
    kept = await report(site)
    assert 1 <= kept["entries"] < 10 and kept["bound_bytes"] == bound
    await site.client.get("/papers/repos.json", params={"_size": "10"})  # the latest is still there
    await site.client.get("/papers/repos.json", params={"_size": "1"})  # the first is gone
    seen = await report(site)
    assert (seen["hits"], seen["misses"]) == (kept["hits"] + 1, kept["misses"] + 1)


async def test_hostile_query_strings_do_not_grow_it_past_its_bound(papers_db):
    bound = 400_000
    site = datasette_instance(papers_db, plugin_config={"page-cache": {"max_bytes": bound}})
    hostile = [("/papers/appearances.json", {"_size": "1", "_junk": f"{n:02d}" + "x" * 10_000}) for n in range(30)]  # long, all different
    hostile.append(("/papers/papers.json", {"_size": "max"}))  # one answer larger than the bound
    for path, params in hostile:
        assert (await site.client.get(path, params=params)).status_code == 200
        seen = await report(site)
        assert seen["bytes"] <= bound
    assert 1 <= seen["entries"] < len(hostile)
    assert (await site.client.get("/papers/papers.json", params={"_size": "max"})).status_code == 200
    assert (await report(site))["hits"] == 0  # the answer larger than the bound was not kept


def built_from_the_first_three_dumps(tmp_path: Path, data_copy: Path) -> tuple[Path, Path]:
    """A database of the first three dumps, in a folder of its own, and the folder where the others wait."""
    held = tmp_path / "held"
    held.mkdir()
    for dump in sorted(data_copy.glob("*.txt"))[3:]:
        shutil.move(dump, held / dump.name)
    db = tmp_path / "site" / "papers.db"
    db.parent.mkdir()
    build(db, [data_copy])
    return db, held


def rebuilt_with_the_others(db: Path, held: Path, data_copy: Path) -> None:
    """The other dumps added: a new file renamed over the old one."""
    for dump in held.iterdir():
        shutil.move(dump, data_copy / dump.name)
    build(db, [data_copy])


async def test_after_a_rebuild_no_answer_of_the_previous_version_is_served(tmp_path, data_copy):
    db, held = built_from_the_first_three_dumps(tmp_path, data_copy)
    site = datasette_instance(db)
    old = await facet_counts(site, "papers")
    assert await facet_counts(site, "papers") == old and (await report(site))["hits"] == 1

    rebuilt_with_the_others(db, held, data_copy)
    await site.client.get("/papers/papers.json", params={"_size": "1"})
    forgot = await report(site)
    assert forgot["hits"] == 1 and forgot["entries"] == 0 and forgot["following_the_file"] is False

    fresh = datasette_instance(db)  # as a server process started on the new version
    new = await facet_counts(fresh, "papers")
    assert new != old
    assert_facets_count_the_rows(new, db, "papers")
    assert await facet_counts(fresh, "papers") == new and (await report(fresh))["hits"] == 1


@pytest.mark.parametrize("page", ["/papers/papers", "/papers/papers.json"])
async def test_a_page_whose_facets_ran_out_of_time_is_not_kept(papers_db, page):
    site = datasette_instance(papers_db, facet_time_limit_ms=1)
    # Every row costs the same hex() of 200 kB: the 50 rows of the page answer, a facet over all 255 rows cannot in 1 ms.
    slow = {"_where": "length(hex(zeroblob(200000 + id % 2))) > 0"}
    for _ in range(2):
        response = await site.client.get(page, params=slow)
        assert response.status_code == 200
        if page.endswith(".json"):  # the JSON leaves out the facets that timed out
            assert set(response.json()["facet_results"]) < set(DEFAULT_FACETS["papers"])
        else:
            assert "These facets timed out" in response.text
    seen = await report(site)
    assert seen["entries"] == 0 and seen["hits"] == 0


@pytest.mark.parametrize("shape", [{"_shape": "array"}, {"_shape": "array", "_nl": "on"}, {"_shape": "arrays"}, {"_shape": "object"}, {"_shape": "objects"}])
async def test_every_json_shape_is_answered_and_then_answered_from_memory(papers_db, shape):
    site = datasette_instance(papers_db)
    first = await site.client.get("/papers/repos.json", params={**shape, "_size": "3"})
    again = await site.client.get("/papers/repos.json", params={**shape, "_size": "3"})
    assert first.status_code == again.status_code == 200 and again.content == first.content
    if "_nl" in shape:  # one row a line
        rows = first.text.splitlines()
    else:
        rows = first.json() if shape["_shape"] in ("array", "object") else first.json()["rows"]
    assert len(rows) == 3
    assert (await report(site))["hits"] == 1
