"""A build from scratch stages its papers and vectors, and keeps each paper's last text and that text's vector."""

from __future__ import annotations

import sqlite3

import pytest

from loader import staging
from loader.build import build
from loader.records import Rows, paper_id
from loader.staging import PARTITION_BYTES, StagedPapers
from tests.conftest import DUMPS, build_listings
from tests.test_vectors import texts, vectors_match_texts

CHROME = "Daily Papers\n\nbyAK and the research community\n\nJan 8\n\n"


def batch(papers: list[tuple[int, str, str]], vectors: list[tuple[int, bytes]] = ()) -> Rows:
    rows = Rows(vectors=list(vectors))
    rows.papers = [(paper, title, abstract, title.lower(), "") for paper, title, abstract in papers]
    return rows


def test_each_paper_is_written_from_its_last_listing_in_its_partition():
    conn = sqlite3.connect(":memory:")
    staged = StagedPapers(conn, embed=False, text_bytes=2 * PARTITION_BYTES)  # two partitions: ids below 2**52, and above
    high = 1 << 52
    staged.write(batch([(5, "E", "e1"), (high + 3, "C", "c1")]))
    staged.write(batch([(5, "E", "e2"), (9, "I", "i1"), (high + 3, "C", "c2"), (high + 1, "A", "a1")]))
    last, unembedded = staged.finish()
    assert last.papers.tolist() == [5, 9, high + 1, high + 3]
    assert last.rows.tolist() == [2, 3, 3, 2]  # each partition's rows in the order written, from 1
    assert list(last.partitions()) == [("staged_papers_0", 0, high), ("staged_papers_1", high, 2 * high)]
    tables = {paper: table for table, low, high in last.partitions() for paper in last.papers.tolist() if low <= paper < high}
    abstracts = [
        conn.execute(f"select abstract from {tables[paper]} where rowid = ?", [row]).fetchone()[0]
        for paper, row in zip(last.papers.tolist(), last.rows.tolist())
    ]
    assert abstracts == ["e2", "i1", "a1", "c2"]
    assert unembedded == set()


def test_a_vector_is_kept_only_when_made_from_its_papers_last_text():
    conn = sqlite3.connect(":memory:")
    conn.execute("create table paper_vectors (paper_id integer primary key, vector blob not null)")
    staged = StagedPapers(conn, embed=True, text_bytes=1000)
    # Paper 1 is listed twice in one batch, each text with its vector; paper 2 comes again with
    # another text and no vector (its parser embedded it before); paper 3 changes and comes back
    # to the text embedded; paper 4 is embedded by each of two parsers, one text each.
    staged.write(batch([(1, "T", "a"), (2, "U", "b"), (1, "T", "a2"), (3, "V", "c"), (4, "W", "d")],
                       [(1, b"A"), (2, b"B"), (1, b"A2"), (3, b"C"), (4, b"D")]))  # fmt: skip
    staged.write(batch([(2, "U", "b2"), (3, "V", "c2"), (4, "W", "d2")], [(4, b"D2")]))
    staged.write(batch([(3, "V", "c")]))
    _, unembedded = staged.finish()
    assert dict(conn.execute("select paper_id, vector from paper_vectors order by paper_id")) == {
        1: b"A2",
        3: b"C",
        4: b"D2",
    }
    assert unembedded == {2}
    assert conn.execute("select name from temp.sqlite_master where name = 'vector_log'").fetchone() is None


def test_a_build_from_scratch_writes_the_same_papers_from_a_thousand_partitions_as_from_one(tmp_path, papers_db, monkeypatch):
    """data/ is staged in one table; with partitions of 1 KB, in MAX_PARTITIONS (1,024)."""
    assert sum(path.stat().st_size for path in DUMPS) < staging.PARTITION_BYTES
    monkeypatch.setattr(staging, "PARTITION_BYTES", 1024)
    db = tmp_path / "papers.db"
    build(db, DUMPS, parallel=True)
    rows = "select * from papers order by id"
    with sqlite3.connect(db) as partitioned, sqlite3.connect(papers_db) as whole:
        assert partitioned.execute(rows).fetchall() == whole.execute(rows).fetchall()
        assert partitioned.execute("select count(*) from papers").fetchone()[0] > 200
        assert partitioned.execute("select name from sqlite_master where name like 'staged%'").fetchall() == []


@pytest.mark.parametrize("parallel", [False, True])
def test_a_paper_listed_twice_with_two_abstracts_keeps_the_second_and_its_vector(tmp_path, parallel):
    """Both texts are embedded in one batch; the second must be stored with its own vector."""
    listing = (
        CHROME
        + "Model Soups Revisited\n\nAveraging the weights of fine-tuned models, first version.\n\n"
        + "A Second Paper\n\nAn abstract that stays as it is.\n\n"
        + "Model Soups Revisited\n\nAveraging the weights of fine-tuned models, revised with new results.\n\n"
    )
    db = build_listings(tmp_path, [listing, CHROME + "A Third Paper\n\nAnother listing, so two parsers can share.\n"], parallel)
    assert texts(db)[paper_id("Model Soups Revisited")] == (
        "Model Soups Revisited",
        "Averaging the weights of fine-tuned models, revised with new results.",
    )
    assert vectors_match_texts(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select name from sqlite_master where name like 'staged%'").fetchall() == []
