"""Building the database from every dump in data/, checked against independent counts."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from loader import schema
from loader.build import build
from loader.records import paper_id
from tests.conftest import DUMPS, build_listings


def independent_titles(path: Path) -> list[str]:
    """Titles of a dump by a method unlike the parser's: split on blank lines, drop chrome and metadata."""
    blocks = [block.strip() for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    date_at = next(i for i, block in enumerate(blocks) if re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", block))
    body = [block for block in blocks[date_at + 1 :] if "\n·\n" not in block]
    return body[0::2]


def normalised(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def one(db: Path, sql: str, params=()):
    return rows(db, sql, params)[0]


def test_entry_counts_per_dump(papers_db):
    expected = {dump.name: len(independent_titles(dump)) for dump in DUMPS}
    assert expected == {
        "000_cb7cd7af2323319e.txt": 41,
        "001_aac3630fa6cd08cf.txt": 84,
        "002_073c856badb15984.txt": 75,
        "003_d70b61c28a3beeab.txt": 95,
        "004_fa38fd4572169ea6.txt": 60,
    }
    assert dict(rows(papers_db, "select name, entry_count from dumps")) == expected
    assert dict(rows(papers_db, "select dump, count(*) from appearances group by dump")) == expected


def test_distinct_papers_and_papers_in_several_dumps(papers_db):
    per_dump = [set(map(normalised, independent_titles(dump))) for dump in DUMPS]
    seen = Counter(title for titles in per_dump for title in titles)
    assert one(papers_db, "select count(*) from papers")[0] == len(seen)
    several = {title for title, count in seen.items() if count > 1}
    assert one(papers_db, "select count(*) from papers where appearances > 1")[0] == len(several)
    stored = {normalised(t) for (t,) in rows(papers_db, "select title from papers where appearances > 1")}
    assert stored == several


def test_repos_found_in_the_raw_text(papers_db):
    found = set()
    for dump in DUMPS:
        for owner, name in re.findall(r"github\.com/([\w.-]+)/([\w.-]+)", dump.read_text(encoding="utf-8")):
            name = re.sub(r"\.$", "", name)
            found.add(f"github.com/{owner}/{re.sub(r'[.]git$', '', name)}".lower())
    stored = {repo_id for (repo_id,) in rows(papers_db, "select id from repos")}
    assert stored == found
    assert len(stored) == 85


def test_capture_years(papers_db):
    # Worked out by hand: dump 000 prints years up to 2025 and nothing pins it; 002 shows
    # "Jul 10" for a paper that 000 prints as "Jul 10, 2025"; 003 shows "Mar 5" for one that
    # 000 prints as "Mar 5, 2025"; 001 and 004 print no dates at all.
    assert rows(papers_db, "select name, capture_year, capture_source, capture_date from dumps order by name") == [
        ("000_cb7cd7af2323319e.txt", 2026, "explicit-years", "2026-01-08"),
        ("001_aac3630fa6cd08cf.txt", None, "unknown", None),
        ("002_073c856badb15984.txt", 2025, "pinned", "2025-10-28"),
        ("003_d70b61c28a3beeab.txt", 2025, "pinned", "2025-10-31"),
        ("004_fa38fd4572169ea6.txt", None, "unknown", None),
    ]


def paper(db: Path, title: str) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("select * from papers where title = ?", [title]).fetchone())


def test_paper_seen_twice_with_and_without_year(papers_db):
    row = paper(papers_db, "Skip a Layer or Loop it? Test-Time Depth Adaptation of Pretrained LLMs")
    assert row["id"] == paper_id("skip a layer or LOOP it  test-time depth adaptation of pretrained llms")
    assert (row["published"], row["published_year"], row["authors_count"]) == ("2025-07-10", 2025, 3)
    assert (row["first_seen"], row["last_seen"], row["appearances"], row["latest_upvotes"]) == (
        "2025-10-28",
        "2026-01-08",
        2,
        14,
    )
    assert rows(papers_db, "select dump, position, upvotes, date_printed from appearances where paper_id = ? order by dump", [row["id"]]) == [
        ("000_cb7cd7af2323319e.txt", 14, 14, "Jul 10, 2025"),
        ("002_073c856badb15984.txt", 32, 14, "Jul 10"),
    ]


def test_spot_checks(papers_db):
    levi = paper(papers_db, "LEVI: Generalizable Fine-tuning via Layer-wise Ensemble of Different Views")
    assert (levi["published"], levi["authors_count"], levi["appearances"], levi["latest_upvotes"]) == ("2024-02-07", 11, 2, 0)
    kalm = paper(papers_db, "KaLM-Embedding-V2: Superior Training Techniques and Data Inspire A Versatile Embedding Model")
    assert (kalm["organisation"], kalm["authors_count"], kalm["published"]) == ("KaLM-Embedding KaLM-Embedding", None, "2025-06-25")
    probing = paper(papers_db, "Attention, Please! Revisiting Attentive Probing for Masked Image Modeling")
    assert (probing["published"], probing["latest_upvotes"], probing["authors_count"]) == ("2025-06-11", 2, 9)
    # A paper only in the date-less dumps has no date and no upvotes.
    tabpfn = paper(papers_db, "TabPFN: A Transformer That Solves Small Tabular Classification Problems in a Second")
    assert (tabpfn["published"], tabpfn["latest_upvotes"], tabpfn["first_seen"], tabpfn["appearances"]) == (None, None, None, 1)
    assert (tabpfn["code_links"], tabpfn["has_code"]) == (1, 1)  # github.com/automl/TabPFN
    # Also in the dated dump 003 (captured 2025-10-31), which prints its date.
    battle = paper(papers_db, "Battle of the Backbones: A Large-Scale Comparison of Pretrained Models across Computer Vision Tasks")
    assert (battle["published"], battle["first_seen"], battle["last_seen"], battle["appearances"]) == ("2023-10-30", "2025-10-31", "2025-10-31", 2)


def test_links_keep_every_url_and_deep_paths(papers_db):
    assert one(papers_db, "select count(*) from links where kind = 'project'")[0] == 4
    assert one(papers_db, "select count(*) from links where kind = 'huggingface'")[0] == 2
    assert rows(papers_db, "select repo_id, path from links where path is not null order by repo_id") == [
        ("github.com/alexmaols/elucd", "tree/main"),
        ("github.com/mindspore-lab/models", "tree/master/research/huawei-noah/SLAB"),
        ("github.com/tensorflow/tpu", "tree/master/models/official/detection/projects/vild"),
    ]
    # Every URL-looking token of every abstract is stored for its paper.
    written = sum(
        len(set(re.findall(r"(?:https?[:;]//|github\.com/)\S+", abstract)))
        for (abstract,) in rows(papers_db, "select abstract from papers")
    )
    assert one(papers_db, "select count(*) from links")[0] == written


def test_paper_counts_on_repos_and_code_links(papers_db):
    assert rows(papers_db, "select id, papers from repos where papers > 1 order by id") == rows(
        papers_db,
        "select repo_id, count(distinct paper_id) from links where repo_id is not null "
        "group by repo_id having count(distinct paper_id) > 1 order by repo_id",
    )
    assert one(papers_db, "select count(*) from papers where has_code != (code_links > 0)")[0] == 0


def test_database_passes_integrity_checks(papers_db):
    assert one(papers_db, "pragma integrity_check")[0] == "ok"
    assert rows(papers_db, "pragma foreign_key_check") == []
    with sqlite3.connect(papers_db) as conn:
        conn.execute("insert into papers_fts(papers_fts, rank) values ('integrity-check', 1)")
    assert one(papers_db, "select count(*) from papers_fts where papers_fts match 'layerwise OR layer'")[0] > 0


def test_listed_in_is_each_papers_dumps_in_name_order(papers_db):
    conn = sqlite3.connect(papers_db)
    dumps: dict[int, set[str]] = {}
    for paper, dump in conn.execute("select paper_id, dump from appearances"):
        dumps.setdefault(paper, set()).add(dump)
    listed = {paper: json.loads(value) for paper, value in conn.execute("select id, listed_in from papers")}
    assert listed == {paper: sorted(names) for paper, names in dumps.items()}
    assert any(len(names) > 1 for names in listed.values())


def test_a_build_from_scratch_leaves_its_index_in_one_segment(tmp_path, monkeypatch):
    """With a small hashsize the rebuild writes many segments; `optimize` leaves one, so the
    first incremental write does not inherit the merging (see `loader.schema.rebuild_fts`)."""
    monkeypatch.setattr(schema, "FTS_HASHSIZE", 64 << 10)
    db = tmp_path / "papers.db"
    build(db, DUMPS, parallel=False)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(distinct segid) from papers_fts_idx").fetchone() == (1,)
        assert conn.execute("select v from papers_fts_config where k = 'hashsize'").fetchone() == (64 << 10,)
        # The rebuild merged nothing as it went, and later writes merge only a level of 64 segments.
        config = dict(conn.execute("select k, v from papers_fts_config where k in ('automerge', 'crisismerge')"))
        assert config == {"automerge": 0, "crisismerge": 64}


def test_small_builds_after_a_rebuild_leave_its_index_alone(tmp_path, monkeypatch):
    """An index the rebuild wrote in several segments (here with a small hashsize; at a million papers,
    more than 64 MB of terms) is one segment on level 1 after `optimize`. With FTS5's default merging
    the small segments of later builds were carried up to that level and merged with it: at a million
    papers every third +100 build rewrote 1.5 GB (`loader.schema.FTS_MERGE`)."""
    from tests.test_related import write_dump

    monkeypatch.setattr(schema, "FTS_HASHSIZE", 64 << 10)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    db = tmp_path / "papers.db"
    build(db, DUMPS, parallel=False)

    def segments() -> dict[str, dict[int, int]]:
        """Each index's segments and their last page."""
        with sqlite3.connect(db) as conn:
            found = {t: dict(conn.execute(f"select segid, max(pgno) from {t}_idx group by segid")) for t in schema.FTS_TABLES}
        conn.close()
        return found

    rebuilt = segments()["papers_fts"]
    assert len(rebuilt) == 1
    for n in range(30):
        papers = [(f"Small build {n} paper {i} about {word}", f"An abstract of paper {i} in build {n}, about {word}.")
                  for i, word in enumerate(["zebras", "glaciers", "tides", "lichens", "comets", "dunes"])]
        write_dump(dumps / f"small_{n:02d}.txt", papers)
        assert build(db, [*DUMPS, dumps], parallel=False).written
        now = segments()["papers_fts"]
        assert rebuilt.items() <= now.items(), (n, now)
    assert len(now) > 1  # the small builds wrote segments of their own


def test_a_new_database_has_16_kb_pages_and_an_older_one_keeps_its_own(tmp_path, monkeypatch):
    """16 KB pages make the build's scans of `papers` a quarter of the reads (`loader.schema.PAGE_SIZE`);
    a database made with 4 KB pages is brought up to date as it is, to the same papers."""
    new = tmp_path / "new.db"
    build(new, DUMPS)
    assert one(new, "pragma page_size") == (16384,)
    older = tmp_path / "older.db"
    monkeypatch.setattr("loader.build.PAGE_SIZE", 4096)
    build(older, DUMPS[:-1])
    monkeypatch.undo()
    build(older, DUMPS)
    assert one(older, "pragma page_size") == (4096,)
    papers = "select id, title, abstract, appearances, latest_upvotes from papers order by id"
    assert rows(older, papers) == rows(new, papers) and len(rows(new, papers)) == 255
    assert one(older, "pragma integrity_check") == ("ok",)


@pytest.mark.parametrize("parallel", [False, True])
def test_a_papers_links_are_its_last_listings_whichever_listing_had_them(tmp_path, parallel):
    """A build from scratch deletes the links of a paper listed again only when it wrote some:
    the first paper loses its links to a listing without them, the second gains its only there."""
    from loader.parser import parse_file

    entries = parse_file(str(DUMPS[0]))[1]
    linked = next(entry for entry in entries if "https://github.com/" in entry.abstract)
    bare = next(entry for entry in entries if "http" not in entry.abstract)
    source = DUMPS[0].read_text(encoding="utf-8")
    unlinked_abstract = re.sub(r"https?://\S+", "(no link)", linked.abstract)
    swapped = source.replace(linked.abstract, unlinked_abstract).replace(bare.abstract, bare.abstract + " Code: https://github.com/someone/somewhere")
    db = build_listings(tmp_path, [source, swapped], parallel)
    with sqlite3.connect(db) as conn:
        links = {entry.title: conn.execute("select url from links where paper_id = ?", [paper_id(entry.title)]).fetchall() for entry in (linked, bare)}
        abstract = conn.execute("select abstract from papers where id = ?", [paper_id(linked.title)]).fetchone()[0]
    assert abstract == unlinked_abstract and links[linked.title] == []
    assert links[bare.title] == [("https://github.com/someone/somewhere",)]
