"""A paper's derived columns from its listings (loader/derive.py), on listings written by hand."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from loader.derive import DERIVED_COLUMNS, _json_names, derive_papers
from loader.schema import create_schema


def dump(name: str, capture_date: str | None, capture_year: int | None) -> dict:
    return {
        "name": name, "sha256": name, "page_date": "Jan 1", "capture_date": capture_date, "capture_year": capture_year,
        "capture_source": "pinned" if capture_year else "unknown", "entry_count": 1, "loaded_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip


def appearance(dump: str, position: int, paper: int, date_iso=None, upvotes=None, authors=None, organisation=None) -> dict:
    return {
        "dump": dump, "position": position, "paper_id": paper, "upvotes": upvotes, "date_printed": None,
        "date_iso": date_iso, "authors_count": authors, "organisation": organisation,
    }  # fmt: skip


@pytest.fixture
def conn() -> sqlite3.Connection:
    db = sqlite_utils.Database(memory=True)
    create_schema(db)
    db["dumps"].insert_all([dump("a", None, None), dump("b", "2024-03-01", 2024), dump("c", "2024-01-15", 2024)])
    db["appearances"].insert_all(
        [
            # Paper 1, read in this order: a (undated dumps first), c at 1, c at 9, b (latest capture).
            appearance("b", 5, 1, "--03-01", upvotes=10, authors=3),
            appearance("a", 2, 1, "2024-02-07", organisation="Org A"),
            appearance("c", 1, 1, None, upvotes=4, authors=5),
            appearance("c", 9, 1, "2024-01-10", upvotes=6, organisation="Org C"),
            # Papers 2 and 3: one listing each, printed without a year, in an undated and a dated dump.
            appearance("a", 1, 2, "--06-12"),
            appearance("b", 1, 3, "--06-12", upvotes=0, authors=1),
        ]
    )
    db["links"].insert_all(
        [
            {"paper_id": 1, "ordinal": n, "url": f"u{n}", "raw": f"u{n}", "kind": kind, "host": "h"}
            for n, kind in ((1, "code"), (2, "code"), (3, "project"))
        ]
    )
    return db.conn


def derived(conn: sqlite3.Connection) -> dict[int, dict]:
    """The derived columns of each paper; nothing is staged here (tests/test_staging.py stages)."""
    rows = {row[0]: dict(zip(DERIVED_COLUMNS, row)) for row in conn.execute("select * from temp.derived")}
    assert all(row.pop("staged_row") is None for row in rows.values())
    return rows


def test_a_papers_columns_come_from_its_listings_in_reading_order(conn):
    derive_papers(conn, "")
    rows = derived(conn)
    assert rows[1] == {
        "id": 1,
        "published": "2024-02-07",  # the latest date printed with a year; a year filled in comes after
        "authors_count": 3,  # the last listing's that showed one: b's
        "organisation": "Org C",
        "first_seen": "2024-01-15",
        "last_seen": "2024-03-01",
        "first_listing": "c",  # the earliest dated listing, though a (undated) comes first
        "first_counted": "0000000002" "0000000004" "c",  # the 2nd listing read, 4 upvotes, in c
        "last_counted": "0000000004" "0000000010" "b",
        "counted": 3,
        "appearances": 3,
        "latest_upvotes": 10,  # of the last listing with a date: b's, its year unprinted
        "code_links": 2,
        "listed_in": '["a","b","c"]',
    }
    assert rows[2] == {
        "id": 2, "published": None, "authors_count": None, "organisation": None, "first_seen": None,
        "last_seen": None, "first_listing": "a", "first_counted": None, "last_counted": None, "counted": 0,
        "appearances": 1, "latest_upvotes": 0, "code_links": 0, "listed_in": '["a"]',
    }  # fmt: skip
    assert rows[3]["published"] == "2024-06-12"  # the dump's capture year fills in the year
    assert (rows[3]["first_counted"], rows[3]["latest_upvotes"], rows[3]["counted"]) == ("0000000001" "0000000000" "b", 0, 1)


def test_only_the_papers_asked_for_are_derived(conn):
    conn.execute("create temp table touched (id integer primary key)")
    conn.execute("insert into temp.touched values (3)")
    derive_papers(conn, "and paper_id in (select id from temp.touched)")
    assert list(derived(conn)) == [3]


@pytest.mark.parametrize(
    "names", [["b.txt", "a.txt", "a.txt"], ['q"uote.txt'], ["back\\slash.txt"], ["tab\there.txt"], ["é.txt", "\xa0nbsp.txt"]]
)
def test_the_listed_dumps_are_written_as_sqlites_json_group_array_writes_them(names):
    with sqlite3.connect(":memory:") as db:
        values = ", ".join("(?)" for _ in names)
        sql = f"select json_group_array(column1) from (select distinct column1 from (values {values}) order by column1)"
        assert _json_names(names) == db.execute(sql, names).fetchone()[0]
