"""A broad query (1,000 matches or more) takes the cut-early path of `search`: a sample ranked by title.

The real dumps are too small for it, so a synthetic corpus of 3,000 papers is
built (bench.generate, the benchmark's generator), and the expectations are
counted from the database with plain SQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.generate import generate
from loader.build import build
from loader.site import datasette_instance

PAPERS = 3000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broad")
    generate(PAPERS, folder / "dumps", dumps=3, seed=7)
    db = folder / "papers.db"
    build(db, [folder / "dumps"])
    return db


def broad_word(db) -> tuple[str, int]:
    """A word of the titles that more than 1,000 abstracts or titles contain (FTS5 count)."""
    conn = sqlite3.connect(db)
    titles = [t for (t,) in conn.execute("select title from papers limit 300")]
    for word in sorted({w.lower() for t in titles for w in t.split() if w.isalpha() and len(w) > 5}):
        [(count,)] = conn.execute("select count(*) from papers_fts where papers_fts match ?", [f'"{word}"'])
        if 1000 < count < PAPERS * 0.9:
            return word, count
    pytest.fail("no broad word in the generated corpus")


async def test_a_broad_query_ranks_a_sample_by_title(corpus):
    word, matches = broad_word(corpus)
    response = await datasette_instance(corpus).client.get("/papers/search.json", params={"q": word, "_shape": "array", "mode": "words"})
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 50 and matches > 1000
    assert all(row["matched"] == 0 for row in rows)  # every word
    # Worked out from title_score (-1, or -2 with the word in the title) less 1 / (1 + title length),
    # times match_boost (1 to 2 for one word): the best is a title holding the word, boosted twice.
    scores = [row["score"] for row in rows]
    best = rows[0]["title"]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 1.0
    assert scores[0] == round((2 + 1 / (1 + len(best))) * 2, 3)
    assert word[:5] in rows[0]["title"].lower()
    assert all(row["snippet"] for row in rows)  # snippets for every result of the sample


WINDOW = 1000  # stem matches a quoted phrase is checked in (the search query's every_window)


@pytest.fixture(scope="module", params=["abstract", "title"])
def variants(request, tmp_path_factory):
    """2,200 papers whose stems all match "training model", in the abstract or in the title; every
    100th has those words exactly. (In titles, the titles' own index found them all: 520 ms a
    search at a million papers.)"""
    from tests.test_related import built_from

    words = ["a training model" if i % 100 == 0 else "trained models" for i in range(2200)]
    if request.param == "abstract":
        papers = [(f"Zebra study number {i}", f"We describe {words[i]} for task {i}.") for i in range(2200)]
    else:
        papers = [(f"Zebra study {i} with {words[i]}", f"We describe zebras for task {i}.") for i in range(2200)]
    return built_from(tmp_path_factory.mktemp("variants"), papers)


async def test_a_phrase_common_in_other_forms_is_checked_in_the_first_stem_matches(variants):
    conn = sqlite3.connect(variants)
    [(stem_matches,)] = conn.execute("""select count(*) from papers_fts where papers_fts match '"training model"'""")
    assert stem_matches == 2200
    window = [row for row in conn.execute("select id, title, abstract from papers order by id limit ?", [WINDOW])]
    expected = {title for _, title, abstract in window if "training model" in f"{title} {abstract}"}
    assert 0 < len(expected) < 22  # some of the 22 exact papers fall beyond the window
    response = await datasette_instance(variants).client.get(
        "/papers/search.json", params={"q": '"training model"', "_shape": "array", "mode": "words"}
    )
    assert response.status_code == 200
    assert {row["title"] for row in response.json()} == expected


RARE_BUDGET = 5000  # matches the rarest terms of the some-words tier may have in all (metadata.yml, search)


@pytest.fixture(scope="module")
def crowd_with_five_quokkas(tmp_path_factory):
    """6,000 papers about networks; five of them (titles by hand) also about quokkas."""
    from tests.test_related import built_from

    papers = [(f"Network study number {i}", f"A network for task {i} on benchmark {i % 97}.") for i in range(6000)]
    for n in range(5):
        papers[n * 1200] = (f"Quokka census {n}", f"A network that counts quokkas on island {n}.")
    return built_from(tmp_path_factory.mktemp("quokkas"), papers)


async def test_the_some_words_tier_ranks_every_match_of_the_rare_words_instead_of_a_sample(crowd_with_five_quokkas):
    """`quokkas network benchmark`: no paper has every word (the quokka papers have no benchmark),
    6,000 have some. The sample of the first 1,000 matches by id held only some of the five quokka
    papers; searching the rarest words on their own (quokkas: 5 papers; network and benchmark: more
    than the budget) ranks all five first."""
    db = crowd_with_five_quokkas
    conn = sqlite3.connect(db)
    quokkas = {pid for (pid,) in conn.execute("select id from papers where title like 'Quokka census %'")}
    [(network,)] = conn.execute("select count(*) from papers_fts where papers_fts match 'network'")
    thousandth = conn.execute(
        "select rowid from papers_fts where papers_fts match 'quokkas OR network OR benchmark' order by rowid limit 1 offset 999"
    ).fetchone()[0]
    conn.close()
    assert len(quokkas) == 5 and network == 6000 > RARE_BUDGET
    assert any(pid > thousandth for pid in quokkas), "the sample would have held every quokka paper: no test"
    response = await datasette_instance(db).client.get(
        "/papers/search.json", params={"q": "quokkas network benchmark", "_shape": "array", "mode": "words"}
    )
    assert response.status_code == 200
    rows = response.json()
    assert {row["id"] for row in rows[:5]} == quokkas
    assert all(row["matched"] == 1 for row in rows)  # some of the words


async def test_a_word_no_paper_holds_beside_common_ones_leaves_the_common_words_searched(crowd_with_five_quokkas):
    """`network zyzzyva`: network is in all 6,000 papers, past the budget; zyzzyva in none. The rarest
    words of the some-words tier were zyzzyva alone, which matches nothing, and the tier gave nothing
    at all. Now the papers with every word a paper holds come first: network's."""
    response = await datasette_instance(crowd_with_five_quokkas).client.get(
        "/papers/search.json", params={"q": "network zyzzyva", "_shape": "array", "mode": "words"}
    )
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 50 and all(row["matched"] == 0 and "network" in row["title"].lower() for row in rows)
    assert {row["note"] for row in rows} == {"No paper holds zyzzyva: searched for the papers with every other word first."}


def crowd_with_titles(folder: Path, abstract: str, titled: list[tuple[str, str]], every: int, offset: int) -> Path:
    """3,000 papers "Study number i" with `abstract` (formatted with i), and the `titled` (title, abstract)
    in the places offset, offset + every, ...: built into folder/papers.db."""
    from tests.test_related import built_from

    papers = [(f"Study number {i}", abstract.format(i)) for i in range(3000)]
    for n, paper in enumerate(titled):
        papers[n * every + offset] = paper
    return built_from(folder, papers)


@pytest.fixture(scope="module")
def crowd_with_five_titles(tmp_path_factory):
    """3,000 papers with `alpha beta` in the abstract; five (by hand) also in the title, of five lengths."""
    titled = ["Alpha beta", "Alpha beta in short", "Alpha beta for a longer while", "Alpha beta, the longest of the five titles", "Alpha beta and much more than that, the very longest title here"]
    papers = [(title, f"An alpha beta method for title {n}.") for n, title in enumerate(titled)]
    db = crowd_with_titles(tmp_path_factory.mktemp("titles"), "An alpha beta method for task {}.", papers, 600, 0)
    return db, titled


async def test_a_broad_query_puts_the_papers_with_every_word_in_the_title_first_shortest_first(crowd_with_five_titles):
    db, titled = crowd_with_five_titles
    conn = sqlite3.connect(db)
    thousandth = conn.execute(
        "select rowid from papers_fts where papers_fts match 'alpha AND beta' order by rowid limit 1 offset 999"
    ).fetchone()[0]
    beyond = conn.execute(
        f"select count(*) from papers where title in ({', '.join('?' * len(titled))}) and id > ?", [*titled, thousandth]
    ).fetchone()[0]
    conn.close()
    assert beyond >= 1, "the sample would have held every titled paper: no test"
    response = await datasette_instance(db).client.get("/papers/search.json", params={"q": "alpha beta", "_shape": "array", "mode": "words"})
    assert response.status_code == 200
    assert [row["title"] for row in response.json()[:5]] == titled  # written shortest first


@pytest.fixture(scope="module")
def crowd_with_hyphenated_titles(tmp_path_factory):
    """3,000 papers that write `semi-supervised` in the abstract; five (by hand) in the title too, spelt three ways."""
    titled = ["Semi-Supervised", "Semisupervised Parsing", "Semi Supervised Video Models", "Towards Semi-Supervised Learning at Scale", "A Long Title on Robust Semi-Supervised Segmentation of Images"]
    papers = [(title, f"A method for title {n}.") for n, title in enumerate(titled)]
    db = crowd_with_titles(tmp_path_factory.mktemp("compound-titles"), "A semi-supervised method for task {}.", papers, 600, 599)
    return db, titled


async def test_a_broad_compound_query_finds_the_titles_that_write_it_with_a_hyphen_or_a_space(crowd_with_hyphenated_titles):
    """`semi-supervised` is searched as its joined word, which the loader indexes beside the text, not in the
    title: the titles that write it in two words are found by the phrase, in the title only."""
    db, titled = crowd_with_hyphenated_titles
    site = datasette_instance(db)
    response = await site.client.get("/papers/search.json", params={"q": "semi-supervised", "_shape": "array", "mode": "words"})
    assert [row["title"] for row in response.json()[:5]] == titled  # written shortest first
    response = await site.client.get("/papers/search.json", params={"q": "title:semi-supervised", "_shape": "array", "mode": "words"})
    assert sorted(row["title"] for row in response.json()) == sorted(titled)


@pytest.fixture(scope="module")
def two_common_words(tmp_path_factory):
    """10,001 papers: 5,001 with `alpha`, 5,001 with `beta`, one (the 5,000th) with both."""
    from tests.test_related import built_from

    papers = [(f"{'Alpha' if i < 5000 else 'Beta'} study {i}", f"A method for task {i}.") for i in range(10001)]
    papers[5000] = ("Alpha beta study", "A method for both.")
    return built_from(tmp_path_factory.mktemp("alpha-beta"), papers)


async def test_a_word_no_paper_holds_leaves_every_other_word_required_instead_of_a_sample(two_common_words):
    """`alpha beta zzzunknown`: no paper has every word, and the some-words tier, each word in more
    than 5,000 papers, ranked a sample of 1,000 by title, which held the one paper with both words
    when its id fell among the first 1,000."""
    conn = sqlite3.connect(two_common_words)
    both = conn.execute("select id from papers where title = 'Alpha beta study'").fetchone()[0]
    [(first_thousand,)] = conn.execute(
        "select count(*) from (select rowid from papers_fts where papers_fts match 'alpha OR beta' order by rowid limit 1000) where rowid = ?",
        [both],
    )
    assert first_thousand == 0, "the paper is in the sample: no test"
    response = await datasette_instance(two_common_words).client.get(
        "/papers/search.json", params={"q": "alpha beta zzzunknown", "_shape": "array", "mode": "words"}
    )
    rows = response.json()
    assert rows[0]["title"] == "Alpha beta study" and rows[0]["matched"] == 0
    assert rows[0]["note"] == "No paper holds zzzunknown: searched for the papers with every other word first."
