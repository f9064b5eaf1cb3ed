"""The same dump in other encodings and line endings loads to the same rows.

A real dump is rewritten as CRLF with a UTF-8 BOM, UTF-16 LE and BE with BOM,
and CRLF in UTF-16, each under the original file name in a folder of its own.
Each variant, built through the real CLI into its own database, must give
exactly the rows the LF UTF-8 original gives; only the dump's sha256 and its
load time may differ. The parser must give the same page and entries.
"""

from __future__ import annotations

import codecs
import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from loader.parser import Page, parse_file

PAPERS_DB = str(Path(sys.executable).parent / "papers-db")
ORIGINAL = Path(__file__).resolve().parent.parent / "data" / "000_cb7cd7af2323319e.txt"

# Tables compared row for row, and the dumps columns allowed to differ.
TABLES = ("papers", "appearances", "links", "repos")
DUMP_COLUMNS_THAT_DIFFER = {"sha256", "loaded_at", "size", "mtime_ns"}  # of the file, not of its content


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


VARIANTS = {
    "crlf-utf8-bom": lambda text: codecs.BOM_UTF8 + _crlf(text).encode("utf-8"),
    "utf16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf16-be-bom": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "crlf-utf16": lambda text: _crlf(text).encode("utf-16"),  # BOM in native order
    # Two more on the way: BOM alone and CRLF alone.
    "utf8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "crlf-utf8": lambda text: _crlf(text).encode("utf-8"),
}


@pytest.fixture(scope="module")
def original_text() -> str:
    raw = ORIGINAL.read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8) and b"\r" not in raw, "the original is meant to be LF UTF-8"
    return raw.decode("utf-8")


def write_variant(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True)
    path = folder / ORIGINAL.name  # the same file name: the dump's identity in the database
    path.write_bytes(data)
    return path


def build(dump: Path, db: Path) -> None:
    result = subprocess.run(
        [PAPERS_DB, "build", "--db", str(db), str(dump)],
        cwd=db.parent,  # never the repository, so no data/dumps.yml is read
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("built: 1 dumps (1 loaded, 0 unchanged)"), result.stdout


def read_tables(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        tables = {
            table: sorted(conn.execute(f"select * from {table}").fetchall(), key=repr) for table in TABLES
        }
        cursor = conn.execute("select * from dumps")
        columns = [description[0] for description in cursor.description]
        tables["dumps"] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    finally:
        conn.close()
    return tables


@pytest.fixture(scope="module")
def original_build(tmp_path_factory: pytest.TempPathFactory, original_text: str) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("original")
    dump = write_variant(folder / "dump", original_text.encode("utf-8"))
    db = folder / "papers.db"
    build(dump, db)
    tables = read_tables(db)
    # Not a vacuous comparison: the real dump has papers, metadata, links and repositories.
    for table in TABLES:
        assert len(tables[table]) > 0, table
    assert len(tables["dumps"]) == 1
    assert tables["dumps"][0]["sha256"] == hashlib.sha256(original_text.encode("utf-8")).hexdigest()
    return tables


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_builds_identical_tables(
    tmp_path: Path, original_text: str, original_build: dict[str, object], variant: str
) -> None:
    data = VARIANTS[variant](original_text)
    assert data != original_text.encode("utf-8")
    dump = write_variant(tmp_path / "dump", data)
    db = tmp_path / "papers.db"
    build(dump, db)
    tables = read_tables(db)

    for table in TABLES:
        assert tables[table] == original_build[table], f"{table} differs for {variant}"

    (row,) = tables["dumps"]
    (expected,) = original_build["dumps"]
    assert set(row) == set(expected)
    same = {key: value for key, value in row.items() if key not in DUMP_COLUMNS_THAT_DIFFER}
    assert same == {key: value for key, value in expected.items() if key not in DUMP_COLUMNS_THAT_DIFFER}
    assert row["name"] == ORIGINAL.name
    # The hash is of the bytes as they are on disk, so it differs.
    assert row["sha256"] == hashlib.sha256(data).hexdigest() != expected["sha256"]
    assert row["size"] == len(data)
    assert row["loaded_at"]


@pytest.fixture(scope="module")
def original_parse(tmp_path_factory: pytest.TempPathFactory, original_text: str):
    folder = tmp_path_factory.mktemp("parse-original")
    return parse_file(str(write_variant(folder / "dump", original_text.encode("utf-8"))))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_parses_to_same_records(tmp_path: Path, original_text: str, original_parse, variant: str) -> None:
    page, entries = original_parse
    assert len(entries) > 10
    assert any(entry.date is not None for entry in entries)

    path = write_variant(tmp_path / "dump", VARIANTS[variant](original_text))
    variant_page, variant_entries = parse_file(str(path))

    assert variant_page.date == page.date
    assert variant_page.line == page.line
    assert variant_entries == entries
    # No BOM or carriage return may survive into the text.
    for entry in variant_entries:
        for text in (entry.title, entry.abstract, entry.organisation or ""):
            assert "\ufeff" not in text and "\r" not in text


# A minimal dump, for placing a character exactly on a read boundary.
MINIMAL_HEAD = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
    "byAK and the research community\n\nJan 8\n\nFirst Paper Title\n\n"
)
MINIMAL_TAIL = "\n\n  • 2 authors\n·\nFeb 7, 2024 5\n\nSecond Paper Title\n\nAnother abstract \U0001f600.\n"


def _blank_lines(units: int) -> str:
    """`units` characters of lines holding only spaces, each well under the longest line allowed."""
    lines, rest = divmod(units, 1000)
    text = (" " * 998 + "\r\n") * lines
    return text + " " * (rest - 2) + "\r\n" if rest >= 2 else " " * rest + text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("what", ["surrogate-pair", "crlf"])
@pytest.mark.parametrize("unit", [32766, 32767, 32768])
def test_utf16_character_split_across_reads(tmp_path: Path, encoding: str, what: str, unit: int) -> None:
    """A surrogate pair or a CR LF straddling a 64 KiB read (32768 code units) decodes as usual.

    `unit` is the index, in UTF-16 code units after the BOM, where the emoji's
    high surrogate or the CR falls; the three values cover a read that starts
    at the BOM and one that starts after it.
    """
    # The padding is blank lines before the first title (no listing line may be 32,000 characters
    # long): all of it is in the BMP, one code unit per character.
    chrome, first = _crlf(MINIMAL_HEAD).split("First Paper Title")
    before = "First Paper Title" + first + "x"  # the first abstract: x, then the emoji or the CR LF
    head = chrome + _blank_lines(unit - len(chrome) - len(before)) + before
    if what == "surrogate-pair":
        crlf_text = head + "\U0001f600 and the rest of the abstract" + _crlf(MINIMAL_TAIL)
        assert crlf_text.encode(encoding)[2 * unit : 2 * unit + 4] == "\U0001f600".encode(encoding)
    else:
        crlf_text = head + _crlf(MINIMAL_TAIL)
        assert crlf_text.encode(encoding)[2 * unit : 2 * unit + 4] == "\r\n".encode(encoding)
    bom = codecs.BOM_UTF16_LE if encoding == "utf-16-le" else codecs.BOM_UTF16_BE

    lf = write_variant(tmp_path / "lf", crlf_text.replace("\r\n", "\n").encode("utf-8"))
    variant = write_variant(tmp_path / "variant", bom + crlf_text.encode(encoding))
    page, entries = parse_file(str(lf))
    variant_page, variant_entries = parse_file(str(variant))

    assert len(entries) == 2 and entries[0].upvotes == 5 and entries[1].abstract.endswith("\U0001f600.")
    assert variant_page == Page(str(variant), page.date, page.line)
    assert variant_entries == entries
