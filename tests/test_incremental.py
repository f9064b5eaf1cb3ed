"""Idempotent, incremental and atomic builds."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from loader import schema
from loader.build import build
from loader.parser import DumpError

TABLES = tuple(table.name for table in schema.TABLES)


def snapshot(db: Path, tables: tuple[str, ...] = TABLES, *, skip_loaded_at: bool = True) -> dict[str, list[tuple]]:
    """Every row of every table, sorted; `loaded_at` is a clock reading, so it is left out.

    Taking one also runs SQLite's and FTS5's full integrity checks, which a
    build itself runs only when asked (see `loader.build._check`), and checks
    the row counts the builds kept against a count of the rows.
    """
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        for index in schema.FTS_TABLES:  # each against papers; raises if not
            conn.execute(f"insert into {index}({index}, rank) values ('integrity-check', 1)")
        conn.rollback()
        kept = dict(conn.execute("select name, rows from row_counts"))
        assert kept == {name: conn.execute(f"select count(*) from {name}").fetchone()[0] for name in kept}
        assert set(kept) == {"papers", "appearances", "repos"}
        assert dumps_counts(conn) == dumps_counts_by_join(conn)
        assert kept_summaries(conn) == recounted_summaries(conn)
        result = {}
        for table in tables:
            columns = [row[1] for row in conn.execute(f"pragma table_info({table})")]
            if skip_loaded_at:
                columns = [c for c in columns if c != "loaded_at"]
            result[table] = sorted(conn.execute(f"select {', '.join(columns)} from {table}").fetchall(), key=repr)
        result["fts"] = sorted(conn.execute("select rowid, title, abstract from papers_fts").fetchall())
        return result


def dumps_counts(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("select name, papers, with_code, only_here from dumps order by name").fetchall()


def dumps_counts_by_join(conn: sqlite3.Connection) -> list[tuple]:
    """The counts each build keeps in `dumps`, counted from the appearances and their papers."""
    return conn.execute(
        "select d.name, count(distinct a.paper_id),"
        " count(distinct case when exists (select 1 from links l where l.paper_id = p.id and l.kind = 'code') then p.id end),"
        " count(distinct case when (select count(distinct dump) from appearances o where o.paper_id = p.id) = 1"
        "  then p.id end)"
        " from dumps d left join appearances a on a.dump = d.name left join papers p on p.id = a.paper_id"
        " group by d.name order by d.name"
    ).fetchall()


def kept_summaries(conn: sqlite3.Connection) -> dict[str, object]:
    """What the builds keep for the Trends dashboard: first listings, added papers, the summary tables."""
    return {
        "first_listing": dict(conn.execute("select id, first_listing from papers")),
        "added_on": dict(conn.execute("select id, added_on from papers")),
        "added_papers": dict(conn.execute("select name, added_papers from dumps")),
        "paper_counts": sorted(conn.execute("select * from paper_counts"), key=repr),
        "owner_counts": sorted(conn.execute("select owner_key, repos, papers from owner_counts")),
        "upvote_growth": sorted(conn.execute("select * from upvote_growth")),
    }


def recounted_summaries(conn: sqlite3.Connection) -> dict[str, object]:
    """The same, counted here from the appearances, papers, links and repos, in Python."""
    dumps = {name: capture for name, capture in conn.execute("select name, capture_date from dumps")}
    shown: dict[int, list[tuple]] = {}
    for paper, dump, position, upvotes in conn.execute("select paper_id, dump, position, upvotes from appearances"):
        # capture order: listings of unknown year first (by name), then by date
        shown.setdefault(paper, []).append((dumps[dump] is not None, dumps[dump] or "", dump, position, upvotes))
    first_listing, growth = {}, []
    years = dict(conn.execute("select id, published_year from papers"))
    for paper, listings in shown.items():
        dated = [listing for listing in listings if listing[0]]
        first_listing[paper] = min(dated or listings)[2]
        counted = sorted(listing for listing in listings if listing[4] is not None)
        if len(counted) >= 2:
            first, last = counted[0], counted[-1]
            growth.append((paper, years[paper], first[2], first[4], last[2], last[4], last[4] - first[4]))
    papers = conn.execute("select id, published, published_year, has_code, latest_upvotes, first_seen from papers").fetchall()
    tally: dict[tuple, int] = {}
    for _, _, year, has_code, upvotes, _ in papers:
        tally[(year, has_code, upvotes or 0)] = tally.get((year, has_code, upvotes or 0), 0) + 1
    owners: dict[str, tuple[set, set]] = {}
    for repo, paper in conn.execute("select repo_id, paper_id from links where repo_id is not null"):
        repos, linking = owners.setdefault(repo.rsplit("/", 1)[0], (set(), set()))
        repos.add(repo)
        linking.add(paper)
    return {
        "first_listing": first_listing,
        "added_on": {paper: first_seen or published for paper, published, _, _, _, first_seen in papers},
        "added_papers": {name: sum(first == name for first in first_listing.values()) for name in dumps},
        "paper_counts": sorted(((*key, count) for key, count in tally.items()), key=repr),
        "owner_counts": sorted((key, len(repos), len(linking)) for key, (repos, linking) in owners.items()),
        "upvote_growth": sorted(growth),
    }


def test_second_build_changes_nothing(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    first = build(db, [data_copy])
    before = db.read_bytes()
    second = build(db, [data_copy])
    assert first.written and not second.written
    assert db.read_bytes() == before
    assert (second.papers, second.appearances, second.repos) == (first.papers, first.appearances, first.repos)


def test_rebuild_gives_the_same_content_and_ids(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    once = snapshot(db)
    build(db, [data_copy], rebuild=True)
    assert snapshot(db) == once


def test_adding_a_dump_equals_building_everything_at_once(tmp_path, data_copy):
    everything = tmp_path / "all.db"
    build(everything, [data_copy])
    newest = data_copy / "003_d70b61c28a3beeab.txt"
    held_back = tmp_path / newest.name
    shutil.move(newest, held_back)
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    loaded_before = dict(sqlite3.connect(db).execute("select name, loaded_at from dumps").fetchall())
    shutil.move(held_back, newest)
    summary = build(db, [data_copy])
    assert (summary.dumps_loaded, summary.dumps_unchanged) == (1, 4)
    assert snapshot(db) == snapshot(everything)  # word rarities too, so related papers are the same
    loaded_after = dict(sqlite3.connect(db).execute("select name, loaded_at from dumps").fetchall())
    assert {name: loaded_after[name] for name in loaded_before} == loaded_before  # old dumps not reloaded


def test_one_dump_given_on_the_command_line_keeps_the_others(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy / "000_cb7cd7af2323319e.txt", data_copy / "001_aac3630fa6cd08cf.txt"])
    build(db, [data_copy / "002_073c856badb15984.txt"])
    names = [name for (name,) in sqlite3.connect(db).execute("select name from dumps order by name")]
    assert names == ["000_cb7cd7af2323319e.txt", "001_aac3630fa6cd08cf.txt", "002_073c856badb15984.txt"]


def drop_entry(path: Path, title: str) -> None:
    """Remove one entry (title, abstract and metadata block) from a dump file."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    at = blocks.index(title)
    end = at + 3 if "\n·\n" in blocks[at + 2] else at + 2
    path.write_text("\n\n".join(blocks[:at] + blocks[end:]), encoding="utf-8")


def test_changed_dump_replaces_its_own_appearances(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    dump = data_copy / "004_fa38fd4572169ea6.txt"
    only_here = "T-Stitch: Accelerating Sampling in Pre-Trained Diffusion Models with Trajectory Stitching"
    drop_entry(dump, only_here)
    summary = build(db, [data_copy])
    assert (summary.dumps_loaded, summary.dumps_unchanged) == (1, 4)
    conn = sqlite3.connect(db)
    assert conn.execute("select entry_count from dumps where name = ?", [dump.name]).fetchone() == (59,)
    assert conn.execute("select count(*) from appearances where dump = ?", [dump.name]).fetchone() == (59,)
    assert conn.execute("select count(*) from papers where title = ?", [only_here]).fetchone() == (0,)
    assert conn.execute("select count(*) from repos where id = 'github.com/nvlabs/t-stitch'").fetchone() == (0,)
    assert conn.execute("select count(*) from papers_fts where papers_fts match 'trajectory'").fetchone() == (0,)
    # The same result as a fresh build of the changed data.
    fresh = tmp_path / "fresh.db"
    build(fresh, [data_copy])
    assert snapshot(db) == snapshot(fresh)


def test_failed_build_leaves_the_old_file_byte_identical(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    before = db.read_bytes()
    (data_copy / "005_new.txt").write_text("new\n\nSubscribe\n\nMay 1\n\nA title\n\nAn abstract\n\n  • 2 authors\n·\n")
    with pytest.raises(DumpError):
        build(db, [data_copy])
    with pytest.raises(DumpError):
        build(db, [data_copy], rebuild=True)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "papers.db"]


def test_failure_in_a_later_dump_keeps_nothing_of_earlier_ones(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    (data_copy / "zzz_broken.txt").write_bytes(b"\x00\x01")
    with pytest.raises(DumpError):
        build(db, [data_copy])
    assert not db.exists()


def test_the_database_file_is_readable_by_others_and_keeps_its_mode(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy / "000_cb7cd7af2323319e.txt"])
    assert db.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    db.chmod(0o640)
    build(db, [data_copy / "001_aac3630fa6cd08cf.txt"])
    assert db.stat().st_mode & 0o777 == 0o640


def test_a_version_4_database_gets_its_search_filters_indexed(tmp_path, data_copy):
    db, fresh = tmp_path / "papers.db", tmp_path / "fresh.db"
    build(db, [data_copy])
    build(fresh, [data_copy])
    with sqlite3.connect(db) as conn:  # version 4 had no search_filters, and indexed three columns
        for trigger in ("papers_ai", "papers_ad", "papers_au"):
            conn.execute(f"drop trigger {trigger}")
        conn.execute("drop table papers_fts")
        conn.execute(
            "create virtual table papers_fts using fts5(title, abstract, search_terms, content=[papers], "
            f"tokenize='{schema.FTS_TOKENIZE}')"
        )
        conn.execute("insert into papers_fts(papers_fts) values ('rebuild')")
        drop_dumps_counts(conn)
        conn.execute("alter table papers drop column search_filters")
        conn.execute("drop index idx_appearances_paper_id_date_iso")  # version 4 indexed paper_id alone
        conn.execute("create index idx_appearances_paper_id on appearances (paper_id)")
        conn.execute("drop index idx_papers_published_year_has_code")  # and published_year alone
        conn.execute("create index idx_papers_published_year on papers (published_year)")
        conn.execute("pragma user_version = 4")
    conn.close()
    assert build(db, [data_copy]).written
    assert snapshot(db) == snapshot(fresh)
    with sqlite3.connect(db) as conn:
        [(indexed,)] = conn.execute("select count(*) from papers_fts where papers_fts match 'search_filters : py2024'")
        [(published,)] = conn.execute("select count(*) from papers where published_year = 2024")
        [(with_code,)] = conn.execute("select count(*) from papers_fts where papers_fts match 'search_filters : hascode'")
        [(has_code,)] = conn.execute("select count(*) from papers where code_links > 0")
        indexes = {name for (name,) in conn.execute("select name from sqlite_master where type = 'index'")}
    conn.close()
    assert indexed == published > 0 and with_code == has_code > 0
    assert {"idx_appearances_paper_id_date_iso", "idx_papers_published_year_has_code"} <= indexes
    assert not {"idx_appearances_paper_id", "idx_papers_published_year"} & indexes
    assert not build(db, [data_copy]).written


def drop_dumps_counts(conn: sqlite3.Connection) -> None:
    """Versions 5 and earlier did not keep the counts of papers in each dump (nor what version 8 added)."""
    drop_version_8_additions(conn)
    for column in ("papers", "with_code", "only_here"):
        conn.execute(f"alter table dumps drop column {column}")


def drop_version_9_additions(conn: sqlite3.Connection) -> None:
    """Versions 8 and earlier had no index of the titles alone."""
    for suffix in ("ai", "ad", "au"):
        conn.execute(f"drop trigger papers_title_{suffix}")
    conn.execute("drop table papers_title_fts")


def drop_version_8_additions(conn: sqlite3.Connection) -> None:
    """Versions 7 and earlier had no first listings, no feed view and no summary tables (nor what 9 added)."""
    drop_version_9_additions(conn)
    conn.execute("drop view feed_entries")
    for table in ("paper_counts", "owner_counts", "upvote_growth"):
        conn.execute(f"drop table {table}")
    conn.execute("drop index idx_papers_added_on")
    conn.execute("drop index idx_papers_published_year_appearances")
    conn.execute("drop index idx_papers_published_year_added_on")
    for column in ("first_listing", "added_on"):
        conn.execute(f"alter table papers drop column {column}")
    conn.execute("alter table dumps drop column added_papers")


@pytest.mark.parametrize(
    "version, made_before",
    [(5, drop_dumps_counts), (7, drop_version_8_additions), (8, drop_version_9_additions)],
    ids=[
        "version 5 gets its dumps counted",
        "version 7 gets its first listings and summary tables",
        "version 8 gets its titles indexed",
    ],
)
def test_an_older_database_gets_what_its_version_lacked(tmp_path, data_copy, version, made_before):
    db, fresh = tmp_path / "papers.db", tmp_path / "fresh.db"
    build(db, [data_copy])
    build(fresh, [data_copy])
    with sqlite3.connect(db) as conn:
        made_before(conn)
        conn.execute(f"pragma user_version = {version}")
    conn.close()
    assert build(db, [data_copy]).written
    assert snapshot(db) == snapshot(fresh)  # which checks the counts against the appearances and recounts the summaries
    assert not build(db, [data_copy]).written
    assert not build(db, [data_copy]).written


def test_a_paper_dropped_from_one_of_its_two_dumps_is_only_in_the_other(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    with sqlite3.connect(db) as conn:
        title, kept, dropped, has_code = conn.execute(
            "select p.title, min(a.dump), max(a.dump),"
            " exists (select 1 from links l where l.paper_id = p.id and l.kind = 'code')"
            " from papers p join appearances a on a.paper_id = p.id"
            " group by p.id having count(distinct a.dump) = 2 and count(*) = 2 order by p.id limit 1"
        ).fetchone()
        before = dict((name, row) for name, *row in dumps_counts(conn))
    conn.close()
    drop_entry(data_copy / dropped, title)
    build(db, [data_copy])
    with sqlite3.connect(db) as conn:
        after = dict((name, row) for name, *row in dumps_counts(conn))
    conn.close()
    papers, with_code, only_here = before[kept]
    assert after[kept] == [papers, with_code, only_here + 1]
    papers, with_code, only_here = before[dropped]
    assert after[dropped] == [papers - 1, with_code - has_code, only_here]


def test_an_incremental_build_looks_its_papers_up_by_id_instead_of_reading_every_paper(papers_db):
    """At a million papers the update of the 100 papers a build added read all million (0.2 s)."""
    from loader.build import _UPDATE_PAPERS

    with closing(sqlite3.connect(f"file:{papers_db}?mode=ro", uri=True, isolation_level=None)) as conn:
        conn.execute("create temp table touched (id integer primary key)")
        conn.execute("insert into temp.touched select id from papers limit 5")
        columns = "id, published, authors_count, organisation, first_seen, last_seen, first_listing, appearances, listed_in, latest_upvotes, code_links"
        conn.execute(f"create temp table derived as select {columns} from papers where id in (select id from temp.touched)")
        conn.execute("create unique index temp.derived_id on derived (id)")
        only_touched = "and papers.id in (select id from temp.touched)"
        plan = [row[3] for row in conn.execute("explain query plan " + _UPDATE_PAPERS.format(only_touched=only_touched))]
    assert any(step.startswith("SEARCH papers USING INTEGER PRIMARY KEY") for step in plan), plan
    assert not any(step.startswith("SCAN papers") for step in plan), plan
