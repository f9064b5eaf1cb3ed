"""Each paper's vector, made by the build: offline, int8, within budget, only for new or changed papers."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loader import vectors as vectors_module
from loader.build import build
from loader.embed import embedder, from_int8, to_int8
from loader.parser import parse_file
from loader.records import paper_id
from tests.conftest import DUMPS, build_listings

ROOT = Path(__file__).resolve().parent.parent


def stored(db: Path) -> dict[int, bytes]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("select paper_id, vector from paper_vectors"))


def wordllama_vectors(texts: list[str]) -> np.ndarray:
    """The same texts through WordLlama's own loader and `embed` (offline: its files ship in the wheel)."""
    import wordllama
    from wordllama import WordLlama

    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return model.embed(texts, norm=True)


def test_every_paper_has_the_vector_of_its_title_and_abstract(papers_db):
    with sqlite3.connect(papers_db) as conn:
        papers = conn.execute("select id, title, abstract from papers order by id").fetchall()
    vectors = stored(papers_db)
    assert sorted(vectors) == [paper for paper, _, _ in papers]
    assert {len(blob) for blob in vectors.values()} == {256}
    mine = from_int8([vectors[paper] for paper, _, _ in papers])
    theirs = wordllama_vectors([f"{title} {abstract}" for _, title, abstract in papers])
    cosines = (mine * theirs).sum(axis=1)
    assert cosines.min() > 0.999  # int8 rounding only
    # and each paper is nearer its own text than any other paper's
    assert (np.argmax(mine @ theirs.T, axis=1) == np.arange(len(papers))).all()


def test_a_text_gets_the_same_vector_alone_or_in_any_batch_and_a_text_without_words_gets_zeros():
    """A paper's stored vector must not depend on which papers shared its parser batch."""
    texts = ["Model soups: averaging weights", "", "   ", "soups soups", "Attention is all you need " * 40]
    together = embedder().vectors(texts)
    for text, vector in zip(texts, together):
        assert embedder().vectors([text])[0].tobytes() == vector.tobytes()
    assert not together[1].any() and not together[2].any()
    assert np.isclose(np.linalg.norm(together[3]), 1.0)
    assert wordllama_vectors(texts[3:4])[0] @ together[3] > 0.999


def test_a_full_word_cache_starts_again_without_changing_a_vector(monkeypatch):
    """The cache of each word's tokens is bounded; texts embedded across its fresh starts get the
    vectors WordLlama gives them."""
    from loader import embed

    monkeypatch.setattr(embed, "WORD_CACHE", 12)
    texts = [
        "sparse mixture of experts routing",
        "diffusion models for image synthesis at scale",  # more new words than the cache holds
        "routing tokens to experts in sparse models",
        "",
        "experts experts experts",
    ]
    model = embed.Embedder(*embed.model_files())
    mine = np.vstack([model.vectors([text]) for text in texts] + [model.vectors(texts)])
    assert len(model.numbers) <= len(set(" ".join(texts).split()))
    theirs = wordllama_vectors(texts)
    for i, text in enumerate(texts + texts):
        if text:
            assert mine[i] @ theirs[i % len(texts)] > 0.9999
        else:
            assert not mine[i].any()


def test_the_ids_a_parser_has_embedded_are_a_set():
    """`SortedIds` keeps a parser's embedded ids in 8 bytes each; it must answer as a set would."""
    import random

    rng = random.Random(7)
    ids, expected = vectors_module.SortedIds(), set()
    for _ in range(300):
        asked = [rng.randrange(2**53) if rng.random() < 0.1 else rng.randrange(500) for _ in range(rng.randrange(40))]
        assert ids.lacks(asked).tolist() == [paper not in expected for paper in asked]
        added = [rng.randrange(500) for _ in range(rng.randrange(30))] + asked[:3]
        ids.add(added)
        expected.update(added)
        assert ids.ids.tolist() == sorted(expected)


def test_vectors_cost_at_most_300_bytes_a_paper_in_the_file(tmp_path):
    """On 3,000 papers, so that the table's partly filled last pages weigh nothing."""
    from bench.generate import generate

    generate(3000, tmp_path / "dumps", dumps=3, seed=3)
    db = tmp_path / "papers.db"
    build(db, [tmp_path / "dumps"])
    with sqlite3.connect(db) as conn:
        papers = conn.execute("select count(*) from papers").fetchone()[0]
        pages = conn.execute("select sum(pgsize) from dbstat where name = 'paper_vectors'").fetchone()[0]
    assert papers == 3000 and pages / papers <= 300


def test_an_incremental_build_embeds_only_new_or_changed_papers(tmp_path, data_copy, monkeypatch):
    dumps = sorted(data_copy.glob("*.txt"))
    *first, last = dumps
    db = tmp_path / "papers.db"
    build(db, first, parallel=False)
    before = stored(db)
    embedded: list[int] = []
    real = vectors_module.vectors_of

    def recording(papers):
        embedded.extend(paper[0] for paper in papers)
        return real(papers)

    monkeypatch.setattr(vectors_module, "vectors_of", recording)
    # The last dump, and one abstract of the first dump changed by hand.
    entry = parse_file(str(first[0]))[1][0]
    first[0].write_text(first[0].read_text(encoding="utf-8").replace(entry.abstract, entry.abstract + " Revised."), encoding="utf-8")
    build(db, dumps, parallel=False)
    new = {paper_id(e.title) for e in parse_file(str(last))[1]} - set(before)
    assert new and sorted(embedded) == sorted(new | {paper_id(entry.title)})
    after = stored(db)
    assert after[paper_id(entry.title)] != before[paper_id(entry.title)]
    assert all(after[paper] == before[paper] for paper in before if paper != paper_id(entry.title))
    # Each vector is its paper's stored text's, as in a build from scratch (where the paper's text
    # may be another listing's: the last one loaded wins).
    scratch = tmp_path / "scratch.db"
    monkeypatch.setattr(vectors_module, "vectors_of", real)
    build(scratch, dumps, parallel=True)
    for path in (db, scratch):
        assert vectors_match_texts(path)


def texts(db: Path) -> dict[int, tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute("select id, title, abstract from papers")}


def vectors_match_texts(db: Path) -> bool:
    """Every stored vector is the int8 vector of its paper's stored title and abstract, computed here."""
    papers, vectors = texts(db), stored(db)
    ids = sorted(papers)
    expected = to_int8(wordllama_vectors([f"{papers[i][0]} {papers[i][1]}" for i in ids]))
    return sorted(vectors) == ids and all(
        np.abs(np.frombuffer(vectors[i], np.int8).astype(int) - np.frombuffer(e, np.int8)).max() <= 1
        for i, e in zip(ids, expected)
    )


@pytest.mark.parametrize("parallel", [False, True])
def test_a_build_from_scratch_stores_the_vector_of_each_papers_last_text(tmp_path, parallel):
    """A paper listed with one abstract, then another: the last text loaded is stored, and its
    vector with it. One parser embeds the first text and later drops that vector (outdated);
    two parsers each embed one text, and the second's must win."""
    source = DUMPS[0].read_text(encoding="utf-8")
    entry = parse_file(str(DUMPS[0]))[1][0]
    revised = source.replace(entry.abstract, entry.abstract + " Revised.")
    db = build_listings(tmp_path, [source, revised], parallel)
    assert texts(db)[paper_id(entry.title)] == (entry.title, entry.abstract + " Revised.")
    assert vectors_match_texts(db)


def test_a_build_without_vectors_writes_all_else_a_build_writes(tmp_path, papers_db):
    """What bench/scale.py times as the build less its embedding must do the rest of the work."""
    db = tmp_path / "papers.db"
    build(db, DUMPS, vectors=False, parallel=True)
    with sqlite3.connect(db) as without, sqlite3.connect(papers_db) as full:
        tables = [name for (name,) in full.execute("select name from sqlite_master where type = 'table' order by name")]
        assert tables == [name for (name,) in without.execute("select name from sqlite_master where type = 'table' order by name")]
        for table in tables:
            if table in ("paper_vectors", "dumps"):
                continue
            rows = f"select * from [{table}] order by 1, 2"
            assert without.execute(rows).fetchall() == full.execute(rows).fetchall(), table
        dumps = "select * from dumps order by name"
        loaded_at = [column[1] for column in full.execute("pragma table_info(dumps)")].index("loaded_at")
        assert [row[:loaded_at] + row[loaded_at + 1 :] for row in without.execute(dumps)] == [
            row[:loaded_at] + row[loaded_at + 1 :] for row in full.execute(dumps)
        ]
        assert without.execute("select count(*) from paper_vectors").fetchone() == (0,)
        assert full.execute("select count(*) from paper_vectors").fetchone()[0] > 200


def test_a_database_made_before_vectors_gets_every_paper_vector_on_the_next_build(tmp_path, data_copy, papers_db):
    db = tmp_path / "papers.db"
    shutil.copy(papers_db, db)
    with sqlite3.connect(db) as conn:
        conn.execute("drop table paper_vectors")
        conn.execute("pragma user_version = 6")
    build(db, sorted(data_copy.glob("*.txt")))
    assert stored(db) == stored(papers_db)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root for a network namespace")
def test_building_and_embedding_a_query_need_no_network(tmp_path, data_copy):
    """In a network namespace with no interface but a down loopback, nothing can be downloaded."""
    db = tmp_path / "papers.db"
    script = (
        "import sys; from pathlib import Path; from loader.build import build; from loader.embed import embedder;"
        f"build(Path({str(db)!r}), sorted(Path({str(data_copy)!r}).glob('*.txt')));"
        "print(embedder().vectors(['mean of several finetuned networks']).shape)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 256)"
    assert len(stored(db)) == 255
