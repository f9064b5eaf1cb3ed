"""Is the file at the database path one this code can read? Asked before a build trusts it and before a server serves it.

`sqlite3 data/papers.db` typed before the first build leaves a 0-byte file; a
copy cut short leaves half a file; a newer checkout may have written a schema
this code does not know. SQLite opens all of them without complaint and
answers queries on the first pages it reads, so such a file would be served
as an empty or broken site. The checks here read the 100-byte header and the
schema table, nothing else: they cost the same at a million papers.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .schema import SCHEMA_VERSION

HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Unusable:
    """Why a file cannot be used; `ours` is False for another application's SQLite database, which is never overwritten."""

    reason: str
    ours: bool = True


def unusable(db_path: Path) -> Unusable | None:
    """None for a papers database this code can read or upgrade; else what is wrong with the file."""
    with open(db_path, "rb") as stream:
        header = stream.read(100)
        size = stream.seek(0, 2)
    if size == 0:
        return Unusable("an empty file, not a papers database")
    if len(header) < 100 or not header.startswith(HEADER):
        return Unusable("not an SQLite database")
    page_size = 65536 if header[16:18] == b"\x00\x01" else int.from_bytes(header[16:18], "big")
    if page_size < 512 or page_size & (page_size - 1):
        return Unusable("not an SQLite database (its header is damaged)")
    if size < _expected_size(header, page_size) or size % page_size:
        return Unusable(f"truncated ({size:,} bytes of {max(_expected_size(header, page_size), size):,})")
    version = int.from_bytes(header[60:64], "big")  # pragma user_version
    if version > SCHEMA_VERSION:
        return Unusable(f"written by a newer papers-db (schema version {version}; this one knows up to {SCHEMA_VERSION})")
    return _tables_problem(db_path)


def _expected_size(header: bytes, page_size: int) -> int:
    """The size the header records, when it is trustworthy (SQLite 3.7.0 and later keep it so)."""
    change_counter, valid_for = header[24:28], header[92:96]
    pages = int.from_bytes(header[28:32], "big")
    return pages * page_size if change_counter == valid_for else 0


def _tables_problem(db_path: Path) -> Unusable | None:
    try:
        with closing(sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError as error:
        return Unusable(f"a damaged SQLite file ({error})")
    if not tables:
        return Unusable("an SQLite database with no tables, not a papers database")
    if "dumps" not in tables:
        return Unusable("not a papers database (an SQLite database of something else)", ours=False)
    return None
