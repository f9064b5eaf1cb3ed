"""Related papers: word rarities stored by the build, papers chosen by the `related` saved query.

The corpus is written by hand so that which words are distinctive, and so which
papers are related, can be worked out on paper (see the comments).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from loader import related
from loader.build import build
from loader.site import datasette_instance

HEADER = "Daily Papers\n\nbyAK and the research community\n\nJan 8\n\n"

# 40 papers that share only "filler", "study" and "number" (in every one of them: too common).
FILLERS = [(f"Filler study number {i}", f"Filler study with token qx{i}a.") for i in range(40)]
ZEBRA = ("Zebra stripes and quokka smiles", "We count zebra stripes and quokka smiles in savanna photographs.")
QUOKKA = ("Quokka smiles in the wild", "A survey of quokka smiles and zebra stripes seen from above.")
GLACIER = ("Glacier melting", "Glacier melting measured with lidar.")  # no word shared: nothing related
DUSK = ("Zebra herds at dusk", "Zebra herds photographed at dusk near the savanna.")


def write_dump(path: Path, papers: list[tuple[str, str]]) -> Path:
    path.write_text(HEADER + "".join(f"{title}\n\n{abstract}\n\n" for title, abstract in papers), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    write_dump(dumps / "a.txt", FILLERS + [ZEBRA, QUOKKA, GLACIER])
    db = tmp_path / "papers.db"
    build(db, [dumps])
    return db, dumps


async def related_titles(db: Path, title: str) -> list[str]:
    [(paper_id,)] = sqlite3.connect(db).execute("select id from papers where title = ?", [title])
    response = await datasette_instance(db).client.get("/papers/related.json", params={"id": paper_id, "_shape": "array"})
    assert response.status_code == 200
    return [row["title"] for row in response.json()]


def test_rarities_over_a_complete_sample(corpus):
    db, _ = corpus
    conn = sqlite3.connect(db)
    # 43 papers, all sampled; a word may be in max(43 // 10, 2) = 4 of them.
    assert conn.execute("select papers, sampled, common_limit, unseen_idf from corpus").fetchall() == [(43, 43, 4, None)]
    rarity = dict(conn.execute("select word, idf from word_rarity").fetchall())
    assert rarity["zebra"] == pytest.approx(math.log(44 / 3))  # in 2 papers
    assert rarity["filler"] is None  # in 40
    assert rarity["glacier"] is None  # in 1: matches nothing else
    assert "the" not in rarity and "paper" not in rarity  # stop words and common abstract words


def test_rarities_over_a_partial_sample(corpus, monkeypatch):
    db, _ = corpus
    monkeypatch.setattr(related, "SAMPLE_SIZE", 10)
    conn = sqlite3.connect(db)
    related.refresh_word_rarity(conn)
    # 10 of 43 sampled; max(10 // 10, 2) = 2 sampled papers at most; unseen words weigh log(11 / 1).
    [(papers, sampled, limit, unseen)] = conn.execute("select papers, sampled, common_limit, unseen_idf from corpus")
    assert (papers, sampled, limit) == (43, 10, 2) and unseen == pytest.approx(math.log(11))
    lowest = [row[0] for row in conn.execute("select title from papers order by id limit 10")]
    assert conn.execute("select count(*) from word_rarity where word = 'filler'").fetchone() == (
        int(any(title.startswith("Filler") for title in lowest)),
    )


async def test_papers_sharing_distinctive_words_are_related(corpus):
    db, _ = corpus
    assert await related_titles(db, ZEBRA[0]) == [QUOKKA[0]]
    assert await related_titles(db, QUOKKA[0]) == [ZEBRA[0]]
    assert await related_titles(db, GLACIER[0]) == []
    assert await related_titles(db, FILLERS[0][0]) == []  # only too common words in common


async def test_an_older_paper_finds_papers_added_after_it(corpus):
    db, dumps = corpus
    write_dump(dumps / "b.txt", [DUSK])
    summary = build(db, [dumps])
    assert (summary.dumps_loaded, summary.dumps_unchanged) == (1, 1)
    # ZEBRA shares zebra/stripes/quokka/smiles with QUOKKA, only zebra/savanna with DUSK.
    assert await related_titles(db, ZEBRA[0]) == [QUOKKA[0], DUSK[0]]
    assert await related_titles(db, DUSK[0]) == [ZEBRA[0], QUOKKA[0]]


def test_a_database_of_the_previous_schema_is_brought_up_to_date(corpus):
    db, dumps = corpus
    with sqlite3.connect(db) as conn:  # what version 1 looked like: a related table, no rarities
        conn.execute("drop table word_rarity")
        conn.execute("create table related (paper_id integer, rank integer, related_id integer, score float)")
        conn.execute("pragma user_version = 1")
    summary = build(db, [dumps])
    assert summary.written
    conn = sqlite3.connect(db)
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    assert "related" not in tables and "word_rarity" in tables
    assert conn.execute("pragma user_version").fetchone() == (2,)
    assert not build(db, [dumps]).written
