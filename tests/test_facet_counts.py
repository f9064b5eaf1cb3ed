"""The default facets' counts, counted once per version of the file (plugins/facet_counts.py), on a real site.

Counts are checked against counts made here in Python over the table's rows; how often a
count was made is read from the plugin's own report, `/-/facet-counts.json`.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from loader.site import datasette_instance
from tests.test_page_cache import (
    DEFAULT_FACETS,
    assert_facets_count_the_rows,
    built_from_the_first_three_dumps,
    counted_in_python,
    rebuilt_with_the_others,
)

# Pages of one table that differ in everything but their filters: the page cache keeps each apart.
UNFILTERED = [{"_size": "1"}, {"_size": "2"}, {"_size": "3", "_other": "x"}]


async def report(site) -> dict:
    return (await site.client.get("/-/facet-counts.json")).json()


async def shown_counts(site, table: str, params: dict) -> dict[str, dict]:
    response = await site.client.get(f"/papers/{table}.json", params=params)
    assert response.status_code == 200, response.text[:300]
    facets = response.json()["facet_results"]
    return {name: {item["value"]: item["count"] for item in facet["results"]} for name, facet in facets.items()}


@pytest.mark.parametrize("table", sorted(DEFAULT_FACETS))
async def test_every_page_of_a_table_shows_its_rows_counts_counted_once(papers_db, table):
    site = datasette_instance(papers_db)
    for params in UNFILTERED:
        assert_facets_count_the_rows(await shown_counts(site, table, params), papers_db, table)
    counted = await report(site)
    facets = len(DEFAULT_FACETS[table])
    assert (counted["misses"], counted["hits"]) == (facets, facets * (len(UNFILTERED) - 1))


async def test_a_filtered_page_counts_its_own_rows(papers_db):
    site = datasette_instance(papers_db)
    everything = await shown_counts(site, "papers", {"_size": "1"})
    filtered = await shown_counts(site, "papers", {"_size": "1", "has_code": "1"})
    conn = sqlite3.connect(papers_db)
    rows = conn.execute("select published_year, has_code from papers where has_code = 1").fetchall()
    conn.close()
    assert filtered["published_year"] == dict(Counter(year for year, _ in rows if year is not None))
    assert filtered["has_code"] == {1: len(rows)}
    assert everything["has_code"] == dict(counted_in_python(papers_db, "papers", "has_code"))
    assert len(everything["has_code"]) == 2  # with code and without: the filter changed the counts


async def test_after_a_rebuild_no_count_of_the_previous_version_is_shown(tmp_path, data_copy):
    db, held = built_from_the_first_three_dumps(tmp_path, data_copy)
    site = datasette_instance(db)
    old = await shown_counts(site, "papers", UNFILTERED[0])
    assert await shown_counts(site, "papers", UNFILTERED[1]) == old and (await report(site))["hits"] == 4

    rebuilt_with_the_others(db, held, data_copy)
    await shown_counts(site, "papers", UNFILTERED[2])
    forgot = await report(site)
    assert forgot["hits"] == 4 and forgot["entries"] == 0 and forgot["following_the_file"] is False

    fresh = datasette_instance(db)  # as a server process started on the new version
    new = await shown_counts(fresh, "papers", UNFILTERED[0])
    assert new != old
    assert_facets_count_the_rows(new, db, "papers")
    assert await shown_counts(fresh, "papers", UNFILTERED[1]) == new and (await report(fresh))["hits"] == 4


async def test_a_count_that_ran_out_of_time_is_not_kept(papers_db):
    site = datasette_instance(papers_db, facet_time_limit_ms=1)
    # Every row costs eight hex() of 400 kB: no facet, even over the few papers with an organisation, can in 1 ms.
    slow = {"_where": " + ".join(["length(hex(zeroblob(400000 + id % 2)))"] * 8) + " > 0", "_size": "1", "_nocount": "1"}
    answered = []  # the facets each answer shows
    for _ in range(2):
        response = await site.client.get("/papers/papers.json", params=slow)
        assert response.status_code == 200
        answered.append(set(response.json()["facet_results"]))
    assert answered == [set(), set()]
    kept = await report(site)
    assert (kept["entries"], kept["hits"], kept["misses"]) == (0, 0, 2 * len(DEFAULT_FACETS["papers"]))


async def test_many_different_filters_do_not_grow_it_past_its_bound(papers_db):
    bound = 3_000
    site = datasette_instance(papers_db, plugin_config={"facet-counts": {"max_bytes": bound}})
    for year in range(1990, 2030):
        await shown_counts(site, "papers", {"_size": "1", "published_year__gte": str(year)})
        assert (await report(site))["bytes"] <= bound
    assert (await report(site))["entries"] >= 1
