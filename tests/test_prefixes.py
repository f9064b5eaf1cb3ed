"""Short and broad prefixes answer with results and say how they were searched; narrow ones as typed.

Broad prefixes only exist on a large database, so 60,000 synthetic papers are
built (bench.generate, the benchmark's generator): more than the 50,000 past
which one- and two-letter prefixes stand for their commonest words. The
expectations are counted from the database with plain SQL and FTS5, or
follow from the query by hand.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from bench.generate import generate
from loader.build import build
from loader.prefixes import EXPANSION_WORDS, SHORT_PREFIX_PAPERS
from loader.search import MAX_PREFIXES
from loader.site import datasette_instance
from loader.text import STOPWORDS

PAPERS = 60_000


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    assert PAPERS > SHORT_PREFIX_PAPERS
    folder = tmp_path_factory.mktemp("prefixes")
    generate(PAPERS, folder / "dumps", dumps=20, seed=11, jobs=2)
    db = folder / "papers.db"
    build(db, [folder / "dumps"])
    return db


async def search(db, q: str) -> list[dict]:
    response = await datasette_instance(db).client.get("/papers/search.json", params={"q": q, "_shape": "array", "mode": "words"})
    assert response.status_code == 200, response.text[:300]
    return response.json()


def stand_ins(note: str, prefix: str) -> list[str]:
    found = re.search(rf"{re.escape(prefix)}\* stands for too many words to search them all: searched ([^;.]+)", note)
    assert found, note
    return found.group(1).split(", ")


@pytest.mark.parametrize("q, prefix", [("a*", "a"), ("tr*", "tr"), ("x*", "x"), ("Tr*", "tr")])
async def test_a_short_prefix_answers_with_papers_that_have_such_a_word_and_says_what_it_searched(large, q, prefix):
    rows = await search(large, q)
    assert len(rows) == 50
    words = stand_ins(rows[0]["note"], q[:-1])
    assert 1 <= len(words) <= EXPANSION_WORDS and all(word.startswith(prefix) for word in words)
    assert not set(words) & STOPWORDS  # `a*` stands for approach or attention, not for about
    conn = sqlite3.connect(large)
    for row in rows:  # every result really has a word with the prefix (a subset of what `q` asks for)
        title, abstract = conn.execute("select title, abstract from papers where id = ?", [row["id"]]).fetchone()
        assert re.search(rf"(?<![^\W_]){prefix}", f"{title} {abstract}".lower()), row["title"]
    conn.close()


async def test_the_page_says_it_too(large):
    page = await datasette_instance(large).client.get("/papers/search", params={"q": "tr*"})
    assert page.status_code == 200
    assert '<p class="search-note">tr* stands for too many words to search them all: searched ' in page.text
    assert page.text.count('<li class="result">') == 50


async def test_a_prefix_on_every_word_and_stop_words_alone_answer(large):
    for q in ("pre* tra* mod*", "the of and", "the", "a"):
        rows = await search(large, q)
        assert len(rows) == 50, q
    assert (await search(large, "the of and"))[0]["note"] is None


async def test_past_the_third_prefix_the_others_are_left_out_and_named(large):
    rows = await search(large, "a* b* c* d* e*")
    assert len(rows) == 50
    note = rows[0]["note"]
    assert MAX_PREFIXES == 3
    for prefix in "abc":
        assert stand_ins(note, prefix)
    assert "d* left out: more than 3 prefixes in one search" in note
    assert "e* left out: more than 3 prefixes in one search" in note


async def test_a_narrow_prefix_is_searched_as_typed(large):
    """A prefix of a rare word: the results are exactly FTS5's own matches of it."""
    conn = sqlite3.connect(large)
    conn.execute("create virtual table temp.vocabulary using fts5vocab(main, papers_fts, 'row')")
    prefix = conn.execute(
        "select substr(term, 1, 7) from temp.vocabulary where length(term) >= 9 and doc between 2 and 5 "
        "and term glob '[a-z]*' order by term limit 1"
    ).fetchone()[0]
    expected = {pid for (pid,) in conn.execute("select rowid from papers_fts where papers_fts match ?", [f'"{prefix}"*'])}
    conn.close()
    rows = await search(large, f"{prefix}*")
    assert 2 <= len(expected) < 50
    assert {row["id"] for row in rows} == expected
    assert rows[0]["note"] is None


async def test_on_the_real_data_no_prefix_is_searched_otherwise_than_typed(papers_db):
    """255 papers: even `a*` is every paper with a word starting with `a`, as FTS5 finds them."""
    conn = sqlite3.connect(papers_db)
    expected = conn.execute("select count(*) from papers_fts where papers_fts match 'a*'").fetchone()[0]
    conn.close()
    rows = await search(papers_db, "a*")
    assert expected > 50 and len(rows) == 50
    assert all(row["note"] is None for row in rows)


async def test_on_the_real_data_past_the_third_prefix_the_others_are_left_out(papers_db):
    """Not only broad prefixes cost: on a thousand papers, 26 of them took 260 ms."""
    rows = await search(papers_db, "prob* lin* atten* mask*")
    assert rows and rows[0]["note"] == "mask* left out: more than 3 prefixes in one search."
    conn = sqlite3.connect(papers_db)
    expected = {pid for (pid,) in conn.execute("select rowid from papers_fts where papers_fts match 'prob* lin* atten*'")}
    conn.close()
    assert {row["id"] for row in rows if row["matched"] == 0} == expected
