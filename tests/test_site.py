"""The published site: saved queries, facets, table search, row pages, download, metadata.

Every test talks to a real Datasette instance (the one `make serve` runs,
built in-process by `loader.site.datasette_instance`) over a real database
built from data/. Expected values come from the database through plain
sqlite3 or from the dumps, written by hand.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from datasette.utils import detect_fts_sql

from loader import schema
from loader.site import datasette_instance

PROBING = "Attention, Please! Revisiting Attentive Probing for Masked Image Modeling"
SKIP_A_LAYER = "Skip a Layer or Loop it? Test-Time Depth Adaptation of Pretrained LLMs"


@pytest.fixture(scope="module")
def site(papers_db):
    return datasette_instance(papers_db)


def sql(db: Path, query: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


async def get_json(site, path: str, **params):
    response = await site.client.get(path, params=params)
    assert response.status_code == 200, (path, params, response.text[:500])
    return response.json()


async def search(site, q: str, mode: str = "words", **filters) -> list[dict]:
    """The `search` saved query; by words unless told (test_meaning.py tests the other modes)."""
    return await get_json(site, "/papers/search.json", q=q, _shape="array", mode=mode, **filters)


def text_of(db: Path) -> dict[str, str]:
    return {title: f"{title} {abstract}" for title, abstract in sql(db, "select title, abstract from papers")}


async def test_search_ranks_the_title_match_first_with_snippet_code_and_listings(site):
    [first, *rest] = await search(site, "attentive probing")
    assert first["title"] == PROBING
    assert set(first) >= {"id", "title", "snippet", "published", "year", "code_urls", "listings"}
    assert json.loads(first["code_urls"]) == ["https://github.com/billpsomas/efficient-probing"]
    assert (first["published"], first["year"], first["listings"]) == ("2025-06-11", 2025, 1)
    assert re.search("\x02[Pp]robing\x03", first["snippet"])
    scores = [row["score"] for row in [first, *rest]]
    assert scores == sorted(scores, reverse=True)


async def test_prefix_search_finds_exactly_the_papers_with_such_a_word(site, papers_db):
    expected = {title for title, text in text_of(papers_db).items() if re.search(r"\bcontrast\w*", text, re.I)}
    assert 0 < len(expected) < 50
    assert {row["title"] for row in await search(site, "contrast*")} == expected


async def test_quoted_phrase_matches_the_phrase_only(site, papers_db):
    def has_phrase(text: str) -> bool:
        return re.search(r"\bmasked\W+image\W+modeling\b", text, re.I) is not None

    expected = {title for title, text in text_of(papers_db).items() if has_phrase(text)}
    loose = {title for title, text in text_of(papers_db).items() if all(w in text.lower() for w in ("masked", "image", "modeling"))}
    assert expected and expected < loose  # the phrase is stricter than the words
    assert {row["title"] for row in await search(site, '"masked image modeling"')} == expected


async def test_title_column_filter(site, papers_db):
    expected = {title for (title,) in sql(papers_db, "select title from papers where title like '%probing%'")}
    assert {row["title"] for row in await search(site, "title:probing")} == expected


async def test_year_and_code_filters(site, papers_db):
    # Stemming makes "distillation" find distil, distill, distilled, distilling... (all stem to "distil"),
    # but not DistillBERT, another word.
    facts = sql(papers_db, "select title, title || ' ' || abstract, published_year, has_code from papers")
    matching = [(title, year, code) for title, text, year, code in facts if re.search(r"\bdistill?(ation|ations|ed|ing|s)?\b", text, re.I)]
    everything = await search(site, "distillation")
    assert {row["title"] for row in everything} == {title for title, _, _ in matching}
    recent = await search(site, "distillation", year_from="2024", year_to="2025")
    assert {row["title"] for row in recent} == {t for t, year, _ in matching if year and 2024 <= year <= 2025}
    with_code = await search(site, "distillation", has_code="1")
    assert {row["title"] for row in with_code} == {t for t, _, code in matching if code}
    assert 0 < len(recent) < len(everything) and 0 < len(with_code) < len(everything)
    assert await search(site, "distillation", has_code="0") == everything


@pytest.mark.parametrize(
    "year_from, year_to",
    [("2024", ""), ("", "2023"), ("2023", "2023"), ("2025", "2024"), ("2031", ""), ("abc", ""), (" 2024", ""), ("2024abc", "")],
)
async def test_year_filters_mean_what_sqlite_casts_them_to(site, papers_db, year_from, year_to):
    # FTS5 applies the years inside MATCH; what passes is what SQLite's cast of the text makes
    # of it ('abc' is 0, '2024abc' is 2024), worked out here in plain SQL.
    expected = {
        title
        for (title,) in sql(
            papers_db,
            "select title from papers where published_year is not null"
            " and (? = '' or published_year >= cast(? as integer)) and (? = '' or published_year <= cast(? as integer))",
            (year_from, year_from, year_to, year_to),
        )
    }
    found = {row["title"] for row in await search(site, "distillation", year_from=year_from, year_to=year_to)}
    everything = {row["title"] for row in await search(site, "distillation")}
    assert len(everything) < 50  # all of them, not the first page of many
    assert found == everything & expected


HOSTILE = [
    "",
    " ",
    '"',
    '""',
    "'",
    "'; drop table papers; --",
    "(",
    "a AND (b OR",
    "AND",
    "OR OR",
    "NOT x",
    "NEAR(a b",
    "NEAR(a b, 2)",
    "*",
    "a*b*",
    "^",
    "^start",
    "title:",
    "title:*",
    "nosuchcolumn:word",
    "abstract:\"unclosed",
    "a\x00b",
    "line\nbreak",
    "]",
    "{title abstract}: x",
    "-x",
    "+x",
    "x" * 10_000,
    "pre-training " * 800,
    "😀 emoji",
    "\u202e",
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
async def test_any_search_input_answers_200_with_a_list(site, q):
    params = {"q": q, "_shape": "array", "year_from": q[:20], "has_code": q[:5]}
    response = await site.client.get("/papers/search.json", params=params)
    assert response.status_code == 200, (q[:40], response.text[:300])
    rows = response.json()
    assert isinstance(rows, list) and all({"id", "title", "snippet"} <= set(row) for row in rows), (q[:40], rows[:1])
    page = await site.client.get("/papers/search", params=params)
    assert page.status_code == 200, (q[:40], page.text[:300])
    assert '<form class="paper-search" action="/papers/search"' in page.text, q[:40]
    # No error, but the one a slow machine may give any search: cut short by the time limit, said in a sentence.
    errors = re.findall(r'<p class="message-error[^"]*"', page.text)
    assert all("search-cut-short" in error for error in errors), (q[:40], errors)
    unfiltered = await search(site, q)
    assert isinstance(unfiltered, list) and all({"id", "title", "snippet"} <= set(row) for row in unfiltered), q[:40]


async def test_empty_search_returns_nothing(site):
    assert await search(site, "") == []
    assert await search(site, "zzzznotaword") == []


async def test_papers_with_code(site, papers_db):
    rows = await get_json(site, "/papers/papers_with_code.json", _shape="array")
    expected = sql(papers_db, "select count(*) from links where kind = 'code'")[0][0]
    assert len(rows) == expected
    assert all(row["repository"].startswith("https://") for row in rows)
    by_year = await get_json(site, "/papers/papers_with_code.json", _shape="array", year="2025")
    assert by_year and all(row["published"].startswith("2025") for row in by_year)


async def test_seen_in_several_listings_shows_listings_side_by_side(site, papers_db):
    rows = await get_json(site, "/papers/seen_in_several_listings.json", _shape="array")
    several = sql(papers_db, "select count(*) from (select paper_id from appearances group by paper_id having count(distinct dump) > 1)")
    assert len(rows) == several[0][0]
    [skip] = [row for row in rows if row["title"] == SKIP_A_LAYER]
    # From the dumps, by hand: position 32 on 002 (captured Oct 28, 2025), position 14 on 000 (Jan 8, 2026).
    assert skip["dumps"] == "002_073c856badb15984.txt | 000_cb7cd7af2323319e.txt"
    assert skip["captured"] == "2025-10-28 | 2026-01-08"
    assert (skip["positions"], skip["upvotes"]) == ("32 | 14", "14 | 14")


async def test_repos_by_owner(site):
    rows = await get_json(site, "/papers/repos_by_owner.json", _shape="array", owner="opengvlab")
    assert [(r["owner"], r["repositories"], r["names"]) for r in rows] == [("OpenGVLab", 2, "M3I-Pretraining, PonderV2")]
    everyone = await get_json(site, "/papers/repos_by_owner.json", _shape="array")
    assert sum(row["repositories"] for row in everyone) == 85


async def test_top_upvoted(site):
    rows = await get_json(site, "/papers/top_upvoted.json", _shape="array")
    assert rows[0]["title"] == SKIP_A_LAYER and rows[0]["latest_upvotes"] == 14
    assert [r["latest_upvotes"] for r in rows] == sorted((r["latest_upvotes"] for r in rows), reverse=True)


async def test_papers_per_year(site, papers_db):
    # Worked out from other columns than the query reads: the year of the `published` date and
    # the code links in `links`, per paper; undated papers count under a null year, which comes last.
    code = {paper for (paper,) in sql(papers_db, "select distinct paper_id from links where kind = 'code'")}
    per_year: dict[int | None, list[int]] = {}
    for paper, published in sql(papers_db, "select id, published from papers"):
        counts = per_year.setdefault(int(published[:4]) if published else None, [0, 0])
        counts[0] += 1
        counts[1] += paper in code
    expected = [
        {"year": year, "papers": n, "with_code": with_code, "percent_with_code": round(100 * with_code / n, 1)}
        for year, (n, with_code) in sorted(per_year.items(), key=lambda item: (item[0] is None, -(item[0] or 0)))
    ]
    rows = await get_json(site, "/papers/papers_per_year.json", _shape="array")
    assert rows == expected
    assert sum(row["papers"] for row in rows) == 255 and len(rows) > 5
    assert rows[0]["year"] == 2025 and rows[-1]["year"] is None  # the probing paper: Jun 11, 2025, by hand


async def test_dumps_query(site, papers_db):
    rows = await get_json(site, "/papers/dumps.json", _shape="array")
    assert {row["name"]: row["entry_count"] for row in rows} == {
        "000_cb7cd7af2323319e.txt": 41,
        "001_aac3630fa6cd08cf.txt": 84,
        "002_073c856badb15984.txt": 75,
        "003_d70b61c28a3beeab.txt": 95,
        "004_fa38fd4572169ea6.txt": 60,
    }
    assert [row["capture_date"] for row in rows][:3] == ["2025-10-28", "2025-10-31", "2026-01-08"]
    listings = "(select distinct dump, paper_id from appearances)"
    [(listed,)] = sql(papers_db, f"select count(*) from {listings}")
    [(listed_with_code,)] = sql(
        papers_db,
        f"select count(*) from {listings} a where exists (select 1 from links l where l.paper_id = a.paper_id and l.kind = 'code')",
    )
    [(in_one_dump,)] = sql(
        papers_db, "select count(*) from (select paper_id from appearances group by paper_id having count(distinct dump) = 1)"
    )
    assert sum(row["papers"] for row in rows) == listed
    assert sum(row["with_code"] for row in rows) == listed_with_code > 0
    assert sum(row["only_here"] for row in rows) == in_one_dump > 0
    assert all(row["papers"] <= row["entry_count"] for row in rows)


async def test_related(site, papers_db):
    [(prop_id,)] = sql(papers_db, "select id from papers where title like 'PROP: Pre-training%'")
    rows = await get_json(site, "/papers/related.json", _shape="array", id=str(prop_id))
    assert len(rows) == 5
    assert rows[0]["title"] == "B-PROP: Bootstrapped Pre-training with Representative Words Prediction for Ad-hoc Retrieval"
    for bad in ("", "abc", "1 or 1=1", "-1"):
        assert await get_json(site, "/papers/related.json", _shape="array", id=bad) == []


async def test_every_saved_query_is_titled_described_and_answers(site):
    metadata = (await get_json(site, "/-/metadata.json"))["databases"]["papers"]["queries"]
    assert set(metadata) == {
        "search",
        "papers_with_code",
        "seen_in_several_listings",
        "repos_by_owner",
        "top_upvoted",
        "papers_per_year",
        "dumps",
        "related",
        "new_papers",
        "new_in_latest",
        "rising",
        "most_relisted",
        "upvote_distribution",
        "top_owners",
        "recent_listings",
    }
    for name, query in metadata.items():
        assert query["title"] and query["description"], name
        for path in (f"/papers/{name}", f"/papers/{name}.json"):
            assert (await site.client.get(path)).status_code == 200, path
        # and as CSV, the same rows as the JSON (the README: "add .json (or .csv) to the path")
        params = {"q": "probing", "owner": "OpenGVLab", "id": "1"}
        data = await get_json(site, f"/papers/{name}.json", **params)
        response = await site.client.get(f"/papers/{name}.csv", params=params)
        assert response.status_code == 200, name
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert header == data["columns"] and rows == [[_as_csv(value) for value in row] for row in data["rows"]], name


async def test_default_facets_on_papers(site, papers_db):
    data = await get_json(site, "/papers/papers.json", _extra="facet_results")
    facets = data["facet_results"]
    assert set(facets) == {"published_year", "has_code", "organisation", "appearances"}
    assert "facets timed out" not in (await site.client.get("/papers/papers")).text  # JSON leaves a timed-out facet out
    years = {item["value"]: item["count"] for item in facets["published_year"]["results"]}
    assert years == dict(sql(papers_db, "select published_year, count(*) from papers where published_year is not null group by 1"))
    by_listing = await get_json(site, "/papers/papers.json", _facet_array="listed_in", _extra="facet_results")
    listed = {item["value"]: item["count"] for item in by_listing["facet_results"]["listed_in"]["results"]}
    assert listed == dict(sql(papers_db, "select dump, count(distinct paper_id) from appearances group by dump"))
    appearances = (await get_json(site, "/papers/appearances.json", _extra="facet_results"))["facet_results"]
    assert {i["value"]: i["count"] for i in appearances["dump"]["results"]} == dict(
        sql(papers_db, "select dump, count(*) from appearances group by dump")
    )


async def test_repos_facets_and_labels(site):
    data = await get_json(site, "/papers/repos.json", _extra="facet_results")
    assert set(data["facet_results"]) == {"owner", "host"}
    hosts = [(item["value"], item["count"]) for item in data["facet_results"]["host"]["results"]]
    assert hosts == [("github.com", 85)]
    owners = {item["value"]: item["count"] for item in data["facet_results"]["owner"]["results"]}
    assert owners["OpenGVLab"] == owners["mlfoundations"] == 2


async def test_table_search_on_papers(site):
    rows = await get_json(site, "/papers/papers.json", _search="attentive", _shape="array")
    assert PROBING in {row["title"] for row in rows}
    for q in HOSTILE[:12]:
        response = await site.client.get("/papers/papers.json", params={"_search": q})
        assert response.status_code in (200, 400), q
        assert response.status_code != 500


async def test_links_to_papers_show_titles(site, papers_db):
    response = await site.client.get("/papers/appearances")
    assert response.status_code == 200
    [(title,)] = sql(papers_db, "select p.title from appearances a join papers p on p.id = a.paper_id order by a.dump, a.position limit 1")
    assert title in response.text


async def test_paper_page_shows_code_links_listings_and_related(site, papers_db):
    [(paper_id,)] = sql(papers_db, "select id from papers where title = ?", [PROBING])
    response = await site.client.get(f"/papers/papers/{paper_id}")
    assert response.status_code == 200
    html = response.text
    assert '<a href="https://github.com/billpsomas/efficient-probing" rel="noopener nofollow">' in html
    assert 'href="/papers/dumps/000_cb7cd7af2323319e~2Etxt"' in html
    assert "Related papers" in html
    related = [row["title"] for row in await get_json(site, "/papers/related.json", _shape="array", id=str(paper_id))]
    positions = [html.index(title.replace("'", "&#39;")) for title in related]
    assert len(related) == 5 and positions == sorted(positions)
    listing = await site.client.get("/papers/dumps/000_cb7cd7af2323319e~2Etxt")
    assert listing.status_code == 200


async def test_missing_paper_is_a_404_not_a_500(site):
    for path in ("/papers/papers/123", "/papers/papers/abc", "/papers/nosuchtable", "/nosuchdb"):
        assert (await site.client.get(path)).status_code == 404, path
    assert (await site.client.get("/papers/papers/%00")).status_code in (302, 404)  # Datasette redirects NUL away


async def test_whole_database_downloads(site, papers_db):
    response = await site.client.get("/papers.db")
    assert response.status_code == 200
    assert response.content == papers_db.read_bytes()


async def test_metadata_title_license_source_and_descriptions(site):
    metadata = await get_json(site, "/-/metadata.json")
    assert metadata["title"] == "Daily Papers search"
    assert metadata["source_url"] == "https://huggingface.co/papers"
    assert metadata["license"] and metadata["about_url"] == "/about"
    tables = metadata["databases"]["papers"]["tables"]
    with sqlite3.connect(next(iter([site.databases["papers"].path]))) as conn:
        for table in (table.name for table in schema.TABLES):
            assert tables[table]["description"], table
            columns = {row[1] for row in conn.execute(f"pragma table_info({table})")}
            assert set(tables[table]["columns"]) == columns, table


async def test_fts_tables_are_hidden(site):
    tables = (await get_json(site, "/papers.json"))["tables"]
    hidden = {t["name"] for t in tables if t["hidden"]}
    for index in schema.FTS_TABLES:
        assert {index, f"{index}_data", f"{index}_idx", f"{index}_docsize", f"{index}_config"} <= hidden
    assert not {table.name for table in schema.TABLES} & hidden


async def test_the_papers_table_searches_its_full_index_not_the_titles_one(site):
    """Two FTS5 indexes have `papers` as content; the table page's search box must use the full one."""
    with sqlite3.connect(site.databases["papers"].path) as conn:
        assert conn.execute(*detect_fts_sql("papers")).fetchall() == [("papers_fts",)]  # whatever the order
        expected = {title for title, abstract in conn.execute("select title, abstract from papers")
                    if re.search(r"\bsoups?\b", abstract, re.I)}
    rows = await get_json(site, "/papers/papers.json", _search="abstract:soups", _searchmode="raw", _shape="array")
    assert {row["title"] for row in rows} == expected and len(expected) == 3  # the titles' index has no abstracts
    assert sqlite_utils.Database(site.databases["papers"].path)["papers"].detect_fts() == "papers_fts"


async def test_home_and_about_pages(site):
    home = await site.client.get("/")
    assert home.status_code == 200
    assert '<form class="paper-search" action="/papers/search"' in home.text
    about = await site.client.get("/about")
    assert about.status_code == 200
    assert "<h1>Daily Papers search</h1>" in about.text


async def test_search_page_shows_cards_with_marked_words(site):
    html = (await site.client.get("/papers/search", params={"q": "attentive probing"})).text
    first = html.index('<li class="result">')
    assert PROBING.replace("'", "&#39;") in html[first : first + 600]
    assert "<mark>probing</mark>" in html.lower()
    assert '<a href="https://github.com/billpsomas/efficient-probing" rel="noopener nofollow">' in html


async def test_search_page_says_which_results_have_only_some_words(site):
    rows = await search(site, "linear probing")
    some = [row for row in rows if row["matched"] == 1]
    assert some and all(row["matched"] == 0 for row in rows[: len(rows) - len(some)])  # every-word results first
    html = (await site.client.get("/papers/search", params={"q": "linear probing", "mode": "words"})).text
    assert html.count("has some of your words") == len(some)


async def test_settings_are_the_documented_ones(site):
    settings = await get_json(site, "/-/settings.json")
    assert settings["sql_time_limit_ms"] == 1500
    assert settings["max_returned_rows"] == 1000
    assert settings["allow_download"] is True
    assert settings["default_cache_ttl"] == 3600


async def test_a_search_reads_only_its_first_1000_characters(site):
    # A quoted phrase is required in both tiers, so one that matches nothing empties the results,
    # unless it stands past the 1,000th character, where the search stops reading.
    phrase, nothing = '"masked image modeling"', '"zzzznotaword qqqqnotaword"'
    found = {row["id"] for row in await search(site, phrase)}
    assert found
    assert await search(site, f"{phrase} {nothing}") == []
    padded = phrase + " " * (1000 - len(phrase))
    assert {row["id"] for row in await search(site, padded + nothing)} == found
    assert await search(site, padded[:-len(nothing) - 1] + " " + nothing) == []  # within the 1,000: read


def _as_csv(value) -> str:
    return "" if value is None else str(value)


def _as_json(value):
    return {"$base64": True, "encoded": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _sorted(rows) -> list:
    return sorted((list(row) for row in rows), key=repr)


@pytest.mark.parametrize("table", [table.name for table in schema.TABLES])
async def test_every_table_and_row_reads_as_a_page_json_and_csv_the_same_as_the_file(site, papers_db, table):
    """What docs/security.md promises a visitor: every table, row and column, as a page, JSON and CSV,
    each the same as the file read with sqlite3. The `dumps` saved query has the `dumps` table's name
    and so its URL: that table is read through its row pages, one per dump."""
    from datasette.utils import tilde_encode

    with sqlite3.connect(papers_db) as conn:
        info = conn.execute(f"pragma table_info([{table}])").fetchall()
        expected = conn.execute(f"select * from [{table}]").fetchall()
    columns = [row[1] for row in info]
    keys = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
    blobs = {i for i, value in enumerate(expected[0]) if isinstance(value, bytes)}  # CSV links a blob, not its bytes
    assert expected, table  # every table holds something once the dumps are loaded

    def csv_rows(text: str) -> list[list[str]]:
        header, *rows = list(csv.reader(io.StringIO(text)))
        assert header == columns, table
        return [[cell for i, cell in enumerate(row) if i not in blobs] for row in rows]

    def as_csv(rows) -> list[list[str]]:
        return [[_as_csv(value) for i, value in enumerate(row) if i not in blobs] for row in rows]

    shadowed = table in (await get_json(site, "/-/metadata.json"))["databases"]["papers"]["queries"]
    if not shadowed:
        assert (await site.client.get(f"/papers/{table}")).status_code == 200, table
        data = await get_json(site, f"/papers/{table}.json", _size="max")
        assert data["filtered_table_rows_count"] == len(expected) and data["columns"] == columns, table
        assert len(data["rows"]) == min(len(expected), 1000), table
        everything = {repr([_as_json(value) for value in row]) for row in expected}
        assert {repr(row) for row in data["rows"]} <= everything, table
        if len(expected) <= 1000:
            assert _sorted(data["rows"]) == _sorted([_as_json(value) for value in row] for row in expected), table
        response = await site.client.get(f"/papers/{table}.csv", params={"_stream": "on"})
        assert response.status_code == 200, table
        assert _sorted(csv_rows(response.text)) == _sorted(as_csv(expected)), table

    # a row URL cannot name a NULL key (paper_counts holds the papers of unknown year): such rows are read above
    addressable = [row for row in expected if all(row[columns.index(k)] is not None for k in keys)]
    assert addressable, table
    for row in addressable if shadowed else addressable[:1]:
        key = ",".join(tilde_encode(str(row[columns.index(k)])) for k in keys)
        assert (await site.client.get(f"/papers/{table}/{key}")).status_code == 200, (table, key)
        assert await get_json(site, f"/papers/{table}/{key}.json", _shape="array") == [dict(zip(columns, map(_as_json, row)))]
        row_csv = await site.client.get(f"/papers/{table}/{key}.csv")
        assert row_csv.status_code == 200 and csv_rows(row_csv.text) == as_csv([row]), (table, key)


@pytest.mark.parametrize("q", ["diffusion image", "medical images", "diffusion models"])
async def test_ten_papers_with_every_word_and_no_some_words_tier(site, q):
    rows = await search(site, q)
    assert len(rows) >= 10 and all(row["matched"] == 0 for row in rows), [row["matched"] for row in rows]


@pytest.mark.parametrize("q", ["graph neural", "video generation", "linear probing"])
async def test_fewer_than_ten_with_every_word_and_the_some_words_tier_follows(site, q):
    rows = await search(site, q)
    every = [row for row in rows if row["matched"] == 0]
    assert 0 < len(every) < 10 and rows[: len(every)] == every and len(rows) > len(every)
    assert all(row["why"] == "some words" for row in rows[len(every) :])


async def test_stemming_makes_the_forms_of_a_word_one(site, papers_db):
    found = {q: {row["id"] for row in await search(site, q, year_from="2025")} for q in ("pretrain", "pretrained", "pretraining")}
    found |= {q: {row["id"] for row in await search(site, q)} for q in ("faq", "FAQs")}
    assert found["pretrain"] == found["pretrained"] == found["pretraining"] and 10 < len(found["pretrain"]) < 50  # all of them
    assert found["faq"] == found["FAQs"] and found["faq"]
    texts = {paper: f"{title} {abstract}" for paper, title, abstract in sql(papers_db, "select id, title, abstract from papers")}
    for form in ("pretrained", "pretraining"):  # each written form is among them
        assert any(re.search(rf"\b{form}\b", texts[paper], re.I) for paper in found["pretrain"]), form
