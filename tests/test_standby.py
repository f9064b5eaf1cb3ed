"""Incremental builds start from the standby, the generation the last build replaced.

A standby is written only when no one reads it and it is behind the database;
otherwise the build copies the database as before. Either way the result is
what a build from scratch gives.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from loader.build import build, standby_path
from loader.parser import DumpError
from tests.test_incremental import snapshot

@pytest.fixture
def held_back(tmp_path, data_copy) -> list[Path]:
    """The two newest dumps moved out of data/, to be added one build at a time."""
    names = sorted(p.name for p in data_copy.glob("*.txt"))[-2:]
    aside = tmp_path / "aside"
    aside.mkdir()
    for name in names:
        shutil.move(data_copy / name, aside / name)
    return [aside / name for name in names]


def add(dump: Path, data: Path) -> None:
    shutil.move(dump, data / dump.name)


def everything(tmp_path: Path, data: Path) -> dict:
    fresh = tmp_path / "fresh.db"
    build(fresh, [data], rebuild=True)
    return snapshot(fresh)


def test_each_build_keeps_the_generation_it_replaced(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    assert not standby_path(db).exists()  # nothing was replaced
    first = snapshot(db)
    add(held_back[0], data_copy)
    build(db, [data_copy])
    assert snapshot(standby_path(db)) == first


def test_the_third_build_brings_the_standby_up_to_date_instead_of_copying(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    add(held_back[0], data_copy)
    build(db, [data_copy])
    loaded_at = dict(sqlite3.connect(db).execute("select name, loaded_at from dumps").fetchall())
    standby_inode = os.stat(standby_path(db)).st_ino
    add(held_back[1], data_copy)
    summary = build(db, [data_copy])
    assert os.stat(db).st_ino == standby_inode  # the standby became the database: no copy
    assert (summary.dumps_loaded, summary.dumps_unchanged, summary.warnings) == (1, 4, [])
    assert snapshot(db) == everything(tmp_path, data_copy)
    after = dict(sqlite3.connect(db).execute("select name, loaded_at from dumps").fetchall())
    assert {name: after[name] for name in loaded_at} == loaded_at  # reloaded into the standby, dated as before


def test_a_standby_a_server_pins_is_left_alone(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    add(held_back[0], data_copy)
    build(db, [data_copy])
    pin = tmp_path / "pin.db"
    os.link(standby_path(db), pin)  # as `loader.site` pins the file a server reads
    pinned = pin.read_bytes()
    add(held_back[1], data_copy)
    build(db, [data_copy])
    assert pin.read_bytes() == pinned
    assert os.stat(db).st_ino != os.stat(pin).st_ino
    assert snapshot(db) == everything(tmp_path, data_copy)


def test_a_standby_another_process_has_open_is_left_alone(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    add(held_back[0], data_copy)
    build(db, [data_copy])
    with open(standby_path(db), "rb") as reader:  # as `datasette -i` on the old file would
        before = reader.read()
        add(held_back[1], data_copy)
        build(db, [data_copy])
        reader.seek(0)
        assert reader.read() == before
        assert os.fstat(reader.fileno()).st_ino != os.stat(db).st_ino
    assert snapshot(db) == everything(tmp_path, data_copy)


def test_a_standby_with_a_dump_the_database_lacks_is_not_used(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    other = tmp_path / "other.db"
    build(other, [data_copy, held_back[1]])  # another lineage: holds a dump db never had
    build(db, [data_copy])
    shutil.copy(other, standby_path(db))
    add(held_back[0], data_copy)
    build(db, [data_copy])
    assert snapshot(db) == everything(tmp_path, data_copy)


def test_a_standby_that_lacks_a_dump_no_longer_given_is_not_used(tmp_path, data_copy, held_back):
    """The database holds a dump from an earlier command line; catching up could not load it."""
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    build(db, [data_copy, held_back[0]])  # the standby now lacks held_back[0], which stays outside data/
    add(held_back[1], data_copy)
    build(db, [data_copy])
    names = [name for (name,) in sqlite3.connect(db).execute("select name from dumps order by name")]
    assert held_back[0].name in names and held_back[1].name in names


def test_a_failed_catch_up_leaves_the_database_byte_identical(tmp_path, data_copy, held_back):
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    add(held_back[0], data_copy)
    build(db, [data_copy])
    before = db.read_bytes()
    (data_copy / "zzz_broken.txt").write_bytes(b"\x00\x01")
    with pytest.raises(DumpError):
        build(db, [data_copy])
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # standby spent, no temp files
    (data_copy / "zzz_broken.txt").unlink()
    add(held_back[1], data_copy)
    build(db, [data_copy])  # without a standby: copies
    assert snapshot(db) == everything(tmp_path, data_copy)


def test_a_dump_whose_size_and_time_are_unchanged_is_not_read_again(tmp_path, data_copy):
    """The documented trade: size and modification time stand for the content, as in make and rsync."""
    db = tmp_path / "papers.db"
    build(db, [data_copy])
    dump = sorted(data_copy.glob("*.txt"))[0]
    stat = dump.stat()
    text = dump.read_bytes()
    dump.write_bytes(text.replace(b" model", b" madel", 1))  # same size, an abstract's word
    os.utime(dump, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert not build(db, [data_copy]).written
    os.utime(dump, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched: hashed, found changed
    summary = build(db, [data_copy])
    assert summary.written and (summary.dumps_loaded, summary.dumps_unchanged) == (1, 4)
