"""Search by meaning and the fusion with words: the `mode` of the `search` saved query, over the real data."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from loader.site import datasette_instance

SINGING = "Singing Voice Separation Using a Deep Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy"
DESCRIPTION = "isolate the vocalist from the backing band like semantic segmentation of a picture"


@pytest.fixture(scope="module")
def site(papers_db):
    return datasette_instance(papers_db)


async def search(site, q: str, mode: str, **filters) -> list[dict]:
    response = await site.client.get("/papers/search.json", params={"q": q, "_shape": "array", "mode": mode, **filters})
    assert response.status_code == 200, response.text[:300]
    return response.json()


def titles(rows: list[dict]) -> list[str]:
    return [row["title"] for row in rows]


async def test_a_description_in_other_words_finds_its_paper_by_meaning(site):
    """The paper says "singing voice", "separation", "binary masks"; the query says none of them."""
    assert SINGING not in titles(await search(site, DESCRIPTION, "words"))
    both = await search(site, DESCRIPTION, "both")
    assert both[0]["title"] == SINGING and both[0]["why"] in ("meaning", "words and meaning")
    assert SINGING in titles(await search(site, DESCRIPTION, "meaning"))[:5]


async def test_when_a_paper_holds_every_word_the_word_ranking_stands_and_meaning_follows(site):
    for q in ("attentive probing", "model soups", "masked autoencoders", "distill*"):
        words = titles(await search(site, q, "words"))
        both = await search(site, q, "both")
        assert titles(both)[: len(words)] == words, q
        rest = both[len(words) :]
        assert all(row["why"] == "meaning" and row["matched"] is None for row in rest), q
        similarities = [row["similarity"] for row in rest]
        assert similarities == sorted(similarities, reverse=True), q  # nearest first


def stored_vectors(db) -> dict[int, np.ndarray]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select paper_id, vector from paper_vectors").fetchall()
    return {paper: np.frombuffer(vector, np.int8).astype(float) for paper, vector in rows}


@pytest.mark.parametrize(
    "year_from, year_to, has_code",
    [("2024", "", ""), ("", "2023", ""), ("2023", "2023", "1"), ("2024abc", "", ""), ("abc", "", ""), ("", "", "1")],
)
async def test_meaning_obeys_the_filters_as_sql_casts_them(site, papers_db, year_from, year_to, has_code):
    # What passes, worked out here in plain SQL, as the words' filters do (test_site.py).
    with sqlite3.connect(papers_db) as conn:
        passing = {
            paper
            for (paper,) in conn.execute(
                "select id from papers where (? = '' or published_year >= cast(? as integer))"
                " and (? = '' or published_year <= cast(? as integer)) and (? in ('', '0') or has_code = 1)",
                (year_from, year_from, year_to, year_to, has_code),
            )
        }
    rows = await search(site, "learning from fewer labelled examples", "meaning", year_from=year_from, year_to=year_to, has_code=has_code)
    assert rows and {row["id"] for row in rows} <= passing
    assert len(rows) == min(50, len(passing))


async def test_meaning_ranks_by_the_cosine_of_the_stored_vectors(site, papers_db):
    """The order is the exact cosine order: recomputed here from the stored bytes and the query's vector."""
    from loader.embed import embedder

    stored = stored_vectors(papers_db)
    query = embedder().vectors(["speech recognition without labels"])[0]
    rows = await search(site, "speech recognition without labels", "meaning")
    cosines = {paper: float(vector @ query / np.linalg.norm(vector)) for paper, vector in stored.items()}
    returned = [row["id"] for row in rows]
    assert len(returned) == 50
    for row in rows:  # float32 on the server: equal to the third decimal, give or take one
        assert abs(row["similarity"] - cosines[row["id"]]) <= 0.0015
    assert [row["similarity"] for row in rows] == sorted((row["similarity"] for row in rows), reverse=True)
    left_out = max(cosine for paper, cosine in cosines.items() if paper not in returned)
    assert min(cosines[paper] for paper in returned) >= left_out - 0.0015  # the 50 nearest, ties aside


async def test_every_word_but_one_no_paper_holds_is_no_known_item_for_the_fusion(site, papers_db):
    """`backing vocalist`: no paper writes `vocalist`, so "every word" is `backing`, and `both` took
    that word ranking as the visitor naming a paper (a paper about distillation came first). With a
    word left out, words and meaning are blended: the singing voice paper comes first."""
    conn = sqlite3.connect(papers_db)
    [(vocalist,)] = conn.execute("select count(*) from papers_fts where papers_fts match 'vocalist'")
    backing = {title for (title,) in conn.execute("select title from papers where papers.id in (select rowid from papers_fts where papers_fts match 'backing')")}
    assert vocalist == 0 and backing and SINGING not in backing
    words = await search(site, "backing vocalist", "words")
    assert words[0]["title"] in backing and words[0]["note"].startswith("No paper holds vocalist")
    both = await search(site, "backing vocalist", "both")
    assert both[0]["title"] == SINGING


async def test_nothing_for_a_query_no_paper_has_a_word_of(site):
    for mode in ("words", "meaning", "both"):
        assert await search(site, "zzzznotaword qqqxqq", mode) == []
        assert await search(site, "", mode) == []


async def test_hostile_text_in_meaning_mode_answers(site):
    for q in ('"', "title:", "*", "a" * 5000, "é" * 300, "\x00", "' OR 1=1 --", "<script>x</script>", "NEAR(a b)"):
        for mode in ("meaning", "both"):
            response = await site.client.get("/papers/search.json", params={"q": q, "_shape": "array", "mode": mode})
            assert response.status_code in (200, 400), (q, mode)


async def test_the_search_page_offers_the_modes_and_says_what_meaning_found(site):
    html = (await site.client.get("/papers/search", params={"q": DESCRIPTION, "mode": "meaning"})).text
    assert '<option value="meaning" selected>meaning only</option>' in html
    assert html.count("found by meaning") >= 1
    assert SINGING in html
