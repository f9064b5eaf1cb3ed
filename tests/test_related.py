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


def built_from(folder: Path, papers: list[tuple[str, str]]) -> Path:
    """The database built in `folder` from one dump of `papers`."""
    (folder / "dumps").mkdir()
    write_dump(folder / "dumps" / "a.txt", papers)
    db = folder / "papers.db"
    build(db, [folder / "dumps"])
    return db


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    write_dump(dumps / "a.txt", FILLERS + [ZEBRA, QUOKKA, GLACIER])
    db = tmp_path / "papers.db"
    build(db, [dumps])
    return db, dumps


async def related_titles(db: Path, title: str) -> list[str]:
    return [row["title"] for row in await related_rows(db, title)]


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
    related.refresh_word_rarity(conn, 43)
    # 10 of 43 sampled; max(10 // 10, 2) = 2 sampled papers at most; unseen words weigh log(11 / 1).
    [(papers, sampled, limit, unseen)] = conn.execute("select papers, sampled, common_limit, unseen_idf from corpus")
    assert (papers, sampled, limit) == (43, 10, 2) and unseen == pytest.approx(math.log(11))
    lowest = [row[0] for row in conn.execute("select title from papers order by id limit 10")]
    assert conn.execute("select count(*) from word_rarity where word = 'filler'").fetchone() == (
        int(any(title.startswith("Filler") for title in lowest)),
    )


async def related_rows(db: Path, title: str) -> list[dict]:
    [(paper_id,)] = sqlite3.connect(db).execute("select id from papers where title = ?", [title])
    response = await datasette_instance(db).client.get("/papers/related.json", params={"id": paper_id, "_shape": "array"})
    assert response.status_code == 200
    return response.json()


# Reciprocal rank fusion of the word list and the meaning list (k = 60): a paper found by meaning
# alone, at place n of its list, scores 1 / (60 + n); one found by words too scores more.
BY_MEANING_ALONE = [round(1 / (60 + n), 4) for n in range(1, 6)]


async def test_papers_sharing_distinctive_words_are_related(corpus):
    db, _ = corpus
    assert (await related_titles(db, ZEBRA[0]))[0] == QUOKKA[0]
    assert (await related_titles(db, QUOKKA[0]))[0] == ZEBRA[0]
    for row in (await related_rows(db, ZEBRA[0]))[1:]:  # the others by meaning alone: no word in common
        assert row["score"] <= BY_MEANING_ALONE[0]
    # No distinctive word in common with any paper: what is related is found by meaning alone.
    for title in (GLACIER[0], FILLERS[0][0]):  # only too common words in common
        assert [row["score"] for row in await related_rows(db, title)] == BY_MEANING_ALONE


async def test_an_older_paper_finds_papers_added_after_it(corpus):
    db, dumps = corpus
    write_dump(dumps / "b.txt", [DUSK])
    summary = build(db, [dumps])
    assert (summary.dumps_loaded, summary.dumps_unchanged) == (1, 1)
    # ZEBRA shares zebra/stripes/quokka/smiles with QUOKKA, only zebra/savanna with DUSK: both are
    # found by words (and by meaning), ahead of every paper found by meaning alone.
    assert (await related_titles(db, ZEBRA[0]))[:2] == [QUOKKA[0], DUSK[0]]
    assert set((await related_titles(db, DUSK[0]))[:2]) == {ZEBRA[0], QUOKKA[0]}


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
    assert conn.execute("pragma user_version").fetchone() == (9,)
    assert not build(db, [dumps]).written


def test_a_version_2_database_learns_its_dumps_latest_years_and_sizes(corpus):
    db, dumps = corpus
    write_dump(dumps / "b.txt", [DUSK])
    (dumps / "b.txt").write_text((dumps / "b.txt").read_text().replace(
        "savanna.\n", "savanna.\n\n  • 2 authors\n·\nMar 3, 2021\n"), encoding="utf-8")
    build(db, [dumps])
    with sqlite3.connect(db) as conn:  # version 2 kept no latest year, size or modification time
        for column in ("max_explicit_year", "size", "mtime_ns"):
            conn.execute(f"alter table dumps drop column {column}")
        conn.execute("pragma user_version = 2")
    conn.close()
    assert build(db, [dumps]).written
    stats = {name: (dumps / name).stat() for name in ("a.txt", "b.txt")}
    with sqlite3.connect(db) as conn:
        assert conn.execute("select name, max_explicit_year, size, mtime_ns from dumps order by name").fetchall() == [
            ("a.txt", None, stats["a.txt"].st_size, stats["a.txt"].st_mtime_ns),  # no dates at all
            ("b.txt", 2021, stats["b.txt"].st_size, stats["b.txt"].st_mtime_ns),
        ]
        assert conn.execute("pragma user_version").fetchone() == (9,)
    conn.close()
    assert not build(db, [dumps]).written


def test_a_version_3_database_learns_its_row_counts(corpus):
    db, dumps = corpus
    with sqlite3.connect(db) as conn:  # version 3 counted rows on every build instead of keeping the counts
        conn.execute("drop table row_counts")
        conn.execute("pragma user_version = 3")
    conn.close()
    summary = build(db, [dumps])
    assert summary.written and (summary.papers, summary.new_papers) == (43, 0)
    with sqlite3.connect(db) as conn:
        kept = dict(conn.execute("select name, rows from row_counts"))
        assert kept == {"papers": 43, "appearances": 43, "repos": 0}
        assert conn.execute("pragma user_version").fetchone() == (9,)
    conn.close()
    assert not build(db, [dumps]).written


def rarity_state(conn: sqlite3.Connection) -> tuple[list, list]:
    return (
        conn.execute("select word, papers, idf from word_rarity order by word").fetchall(),
        conn.execute("select papers, sampled, common_limit, unseen_idf from corpus").fetchall(),
    )


def counted_afresh(db: Path) -> tuple[list, list]:
    """The rarities a full count of the sample gives, on a copy."""
    copy = db.with_name("recount.db")
    copy.write_bytes(db.read_bytes())
    conn = sqlite3.connect(copy)
    related.refresh_word_rarity(conn, conn.execute("select count(*) from papers").fetchone()[0])
    return rarity_state(conn)


def lowest_ids(db: Path, n: int) -> list[int]:
    return [row[0] for row in sqlite3.connect(db).execute("select id from papers order by id limit ?", [n])]


def test_papers_entering_and_leaving_the_sample_adjust_the_counts(corpus, monkeypatch):
    _, dumps = corpus
    monkeypatch.setattr(related, "SAMPLE_SIZE", 10)
    db = dumps.parent / "sampled.db"  # a new file, so the next build copies it (no standby)
    build(db, [dumps])
    before = lowest_ids(db, 10)
    with sqlite3.connect(db) as conn:  # a marker a recount would drop: shows the counts were adjusted
        conn.execute("insert into word_rarity (word, papers) values ('marker', 7)")
    write_dump(dumps / "b.txt", [(f"Okapi tongue number {i}", f"Okapi tongue {i} is long and blue.") for i in range(30)])
    build(db, [dumps])
    after = lowest_ids(db, 10)
    assert set(after) != set(before)  # some new papers entered the sample, pushing others out
    counts = {word: seen for word, seen, _ in rarity_state(sqlite3.connect(db))[0]}
    assert counts["okapi"] == len(set(after) - set(before))
    assert counts.pop("marker") == 7
    with sqlite3.connect(db) as conn:
        conn.execute("delete from word_rarity where word = 'marker'")
    assert rarity_state(sqlite3.connect(db)) == counted_afresh(db)


def test_a_sampled_paper_whose_text_changed_is_counted_afresh(corpus, monkeypatch):
    _, dumps = corpus
    monkeypatch.setattr(related, "SAMPLE_SIZE", 10)
    db = dumps.parent / "sampled.db"
    build(db, [dumps])
    [(title,)] = sqlite3.connect(db).execute("select title from papers order by id limit 1")
    text = (dumps / "a.txt").read_text(encoding="utf-8")
    start = text.index(title + "\n\n") + len(title) + 2
    end = text.index("\n", start)
    (dumps / "a.txt").write_text(text[:start] + "Wombat burrows, rewritten." + text[end:], encoding="utf-8")
    build(db, [dumps])
    counts = {word: seen for word, seen, _ in rarity_state(sqlite3.connect(db))[0]}
    assert counts["wombat"] == 1
    assert rarity_state(sqlite3.connect(db)) == counted_afresh(db)
