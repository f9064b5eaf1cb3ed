"""`bm25_bounded` (loader/_bm25.c, loader/bm25.py): FTS5's bm25() with each phrase's count stopped at 1,000."""

from __future__ import annotations

import math
import sqlite3

import pytest

from loader import bm25
from loader.site import datasette_instance

TWO_TO_53 = 2**53
BOUND = 1000  # papers counted per phrase before the count is estimated (loader/_bm25.c)


def connect(db) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert bm25.register(conn)
    return conn


def scores(conn, function: str, expression: str, weights: str = "10.0, 1.0, 2.0, 0.0") -> dict[int, float]:
    sql = f"select rowid, {function}(papers_fts, {weights}) from papers_fts where papers_fts match ?"
    return dict(conn.execute(sql, [expression]).fetchall())


def test_the_module_is_built_where_make_installs_the_package():
    # The fallback (FTS5's bm25()) must not hide a build that stopped compiling it.
    assert bm25.available()
    from loader import _bm25

    assert _bm25.BOUND == BOUND


@pytest.mark.parametrize(
    "expression",
    [
        '"diffusion"',
        '"diffusion" AND "transformer"',
        '("language model" OR "languagemodel") AND "benchmark"',
        'title : "model" OR abstract : ("code" OR "github")',
        '"segment"*',
        '"model" AND search_filters : hascode',
    ],
)
def test_below_the_bound_the_scores_are_fts5_bm25s(papers_db, expression):
    # 255 papers: every phrase holds fewer than 1,000, so each is counted exactly.
    conn = connect(papers_db)
    expected = scores(conn, "bm25", expression)
    got = scores(conn, "bm25_bounded", expression)
    assert len(expected) > 0
    assert got.keys() == expected.keys()
    for rowid, score in expected.items():
        assert got[rowid] == pytest.approx(score, rel=1e-12)


def test_without_weights_every_column_weighs_one(papers_db):
    conn = connect(papers_db)
    expected = dict(conn.execute('select rowid, bm25(papers_fts) from papers_fts where papers_fts match \'"model"\''))
    got = dict(conn.execute('select rowid, bm25_bounded(papers_fts) from papers_fts where papers_fts match \'"model"\''))
    assert got == pytest.approx(expected, rel=1e-12)


def idf(rows: int, holding: float) -> float:
    """BM25's inverse document frequency as FTS5 computes it (fts5_aux.c)."""
    return max(math.log((rows - holding + 0.5) / (holding + 0.5)), 1e-6)


@pytest.mark.parametrize("word", ["language", "vision", "neural"])
def test_past_the_bound_a_phrase_is_counted_from_its_thousandth_paper(synthetic_db, word):
    conn = connect(synthetic_db)
    holding = [rowid for (rowid,) in conn.execute("select rowid from papers_fts where papers_fts match ? order by rowid", [word])]
    rows = conn.execute("select count(*) from papers").fetchone()[0]
    assert len(holding) > BOUND
    estimate = BOUND * TWO_TO_53 / holding[BOUND - 1]
    assert estimate == pytest.approx(len(holding), rel=0.10)  # paper ids are uniform below 2^53
    # A single phrase: each row's score is -idf x (its own part), so the two functions differ by the idfs' ratio.
    ratio = idf(rows, estimate) / idf(rows, len(holding))
    assert abs(ratio - 1) > 1e-9  # the estimate is not the count, so this test can tell them apart
    expected = scores(conn, "bm25", f'"{word}"')
    got = scores(conn, "bm25_bounded", f'"{word}"')
    assert got.keys() == expected.keys()
    for rowid, score in expected.items():
        assert got[rowid] == pytest.approx(score * ratio, rel=1e-9)


def test_a_rare_phrase_beside_a_common_one_keeps_its_exact_count(synthetic_db):
    conn = connect(synthetic_db)
    rows = conn.execute("select count(*) from papers").fetchone()[0]
    holding = [r for (r,) in conn.execute("select rowid from papers_fts where papers_fts match 'vision' order by rowid")]
    rare = conn.execute("select count(*) from papers_fts where papers_fts match 'mamba'").fetchone()[0]
    assert len(holding) > BOUND > rare > 0
    ratio = idf(rows, BOUND * TWO_TO_53 / holding[BOUND - 1]) / idf(rows, len(holding))
    # bm25() of both is -(idf_vision x T_vision + idf_mamba x T_mamba) per row, and bm25() of
    # "vision" alone is -idf_vision x T_vision: so with the common phrase's idf estimated and
    # the rare one's exact, each row scores both - alone x (1 - ratio).
    both = scores(conn, "bm25", '"vision" AND "mamba"')
    alone = scores(conn, "bm25", '"vision"')
    got = scores(conn, "bm25_bounded", '"vision" AND "mamba"')
    assert got.keys() == both.keys() and len(got) > 0
    for rowid in both:
        assert got[rowid] == pytest.approx(both[rowid] - alone[rowid] * (1 - ratio), rel=1e-9)


URLS = [
    "/papers/search.json?q=diffusion+transformer&_shape=array",
    "/papers/search.json?q=model+soups+checkpoint+averaging&_shape=array",
    "/papers/search.json?q=%22language+model%22&has_code=1&_shape=array",
]


async def answers(site, urls) -> list[list[dict]]:
    found = []
    for url in urls:
        response = await site.client.get(url)
        assert response.status_code == 200, url
        found.append(response.json())
    return found


async def test_fts5_bm25_serves_the_saved_queries_where_the_module_is_missing(papers_db, monkeypatch):
    paper = sqlite3.connect(papers_db).execute("select id from papers where title like 'Model soups%'").fetchone()[0]
    urls = [*URLS, f"/papers/related.json?id={paper}&_shape=array"]
    expected = await answers(datasette_instance(papers_db), urls)
    monkeypatch.setattr(bm25, "_module", lambda: None)  # as where it was not built
    site = datasette_instance(papers_db)
    for name in ("search", "related"):
        sql = (await site.get_canned_query("papers", name, None))["sql"]
        assert "bm25_bounded(" not in sql and "bm25(papers_fts, " in sql
    got = await answers(site, urls)
    assert all(got) and got == expected  # 255 papers: every phrase counted, the same ranking


@pytest.mark.parametrize(
    "sql, status",
    [
        ("select bm25_bounded(1)", 400),  # outside a full-text query: FTS5's own error
        ("select bm25_bounded(papers_fts, 'x', null, x'00', 1e308, -1) from papers_fts where papers_fts match 'model'", 200),
        ("select bm25_bounded(papers_fts) from papers_fts limit 3", 200),  # no phrase at all
        ("select bm25_bounded(papers_fts) from papers_fts where papers_fts match 'mod*'", 200),
        ("select bm25_bounded(papers_fts) from papers_fts where papers_fts match '" + " OR ".join(f'"w{i}"' for i in range(300)) + " OR model'", 200),
        ("select bm25_bounded(papers_title_fts, 2) from papers_title_fts where papers_title_fts match 'model'", 200),
    ],
)
async def test_the_function_answers_whatever_the_sql_box_gives_it(papers_db, sql, status):
    response = await datasette_instance(papers_db).client.get("/papers.json", params={"sql": sql, "_shape": "array"})
    assert response.status_code == status, response.text[:300]
    if status == 200:
        assert len(response.json()) > 0
