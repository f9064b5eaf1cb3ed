"""Bad input through the real `papers-db build` command, run as a subprocess.

Every malformed dump must stop the build with exit code 1 and exactly one line
on stderr, `Error: FILE:LINE: message`, naming the dump and the line at fault;
never a traceback. A failed build must leave an existing database byte for
byte as it was, must not create a database that did not exist, and must not
leave its work file (`.papers.db.*.tmp`) behind.

Line numbers in the comments below are counted by hand from the fixtures.
"""

from __future__ import annotations

import codecs
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PAPERS_DB = str(Path(sys.executable).parent / "papers-db")

# Lines 1-12: the page chrome, the page date (line 11) and a blank line (12).
HEADER = (
    "new\n"  # 1
    "\n"  # 2
    "Get trending papers in your email inbox!\n"  # 3
    "\n"  # 4
    "Subscribe\n"  # 5
    "\n"  # 6
    "Daily Papers\n"  # 7
    "\n"  # 8
    "byAK and the research community\n"  # 9
    "\n"  # 10
    "Jan 8\n"  # 11
    "\n"  # 12
)

GOOD = HEADER + (
    "First Paper Title\n"  # 13
    "\n"  # 14
    "An abstract line with code at https://github.com/owner/repo.\n"  # 15
    "\n"  # 16
    "  • 3 authors\n"  # 17
    "·\n"  # 18
    "Feb 7, 2024\n"  # 19
    "\n"  # 20
    "Second Paper Title\n"  # 21
    "\n"  # 22
    "Another abstract.\n"  # 23
)

# A second valid dump, to check that a build mixing good and bad dumps publishes nothing.
OTHER_GOOD = HEADER.replace("Jan 8", "Jan 9") + (
    "Third Paper Title\n"
    "\n"
    "Code: https://gitlab.com/someone/project\n"
    "\n"
    "  • 1 author\n"
    "·\n"
    "Mar 3, 2024 12\n"
)

GOOD_NAME = "good.txt"


def _good_lines(last: int) -> str:
    """GOOD cut after line `last` (the newline of that line kept)."""
    return "".join(GOOD.splitlines(keepends=True)[:last])


def _replace_line(text: str, number: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    assert lines[number - 1].strip(), f"line {number} of the fixture is blank"
    lines[number - 1] = new + "\n"
    return "".join(lines)


@dataclass(frozen=True)
class Bad:
    id: str
    content: bytes
    line: int  # the line the error must name
    hint: str  # a word the message should contain (case-insensitive)


BAD_DUMPS = [
    # PNG-like bytes: the signature without its CR LF, so NUL bytes and the
    # invalid UTF-8 lead byte 0x89 are all on line 1.
    Bad(
        "binary-png-like",
        b"\x89PNG\x1a\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6\x00\x00"
        b"\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\x00\x00\x00\x00IEND\xaeB`\x82",
        1,
        "",
    ),
    # Valid text with one NUL byte inside the abstract on line 15.
    Bad("binary-nul-in-line-15", _replace_line(GOOD, 15, "An abstract\x00 line.").encode(), 15, "nul"),
    Bad("empty-file", b"", 1, "empty"),
    Bad("whitespace-only", b"   \n\n\t \n  \r\n\n\n", 1, "empty"),
    Bad("whitespace-only-utf8-bom", codecs.BOM_UTF8 + b" \n\n", 1, "empty"),
    # Title on line 13 and the file ends: no abstract.
    Bad("truncated-title-at-eof", (HEADER + "First Paper Title\n").encode(), 13, "truncated"),
    Bad("truncated-title-at-eof-no-newline", (HEADER + "First Paper Title").encode(), 13, "truncated"),
    # A complete first entry, then the second title on line 21 and the file ends.
    Bad("truncated-second-title", _good_lines(21).encode(), 21, "truncated"),
    # Metadata block cut after the authors line (line 17), with and without its newline.
    Bad("truncated-metadata-after-authors", _good_lines(17).encode(), 17, "truncated"),
    Bad("truncated-metadata-after-authors-no-newline", _good_lines(17).rstrip("\n").encode(), 17, "truncated"),
    # Metadata block cut after the `·` line (line 18).
    Bad("truncated-metadata-after-separator", _good_lines(18).encode(), 18, "truncated"),
    Bad("truncated-metadata-after-separator-no-newline", _good_lines(18).rstrip("\n").encode(), 18, "truncated"),
    # Invalid UTF-8 (a lone 0xff byte) in the abstract on line 15.
    Bad(
        "invalid-utf8-line-15",
        GOOD.encode().replace(b"An abstract line", b"An abstract \xff line"),
        15,
        "utf-8",
    ),
    # A truncated multi-byte sequence (first byte of `·`) alone on line 18.
    Bad("invalid-utf8-truncated-sequence-line-18", GOOD.encode().replace(b"\xc2\xb7\n", b"\xc2\n"), 18, "utf-8"),
    # A metadata block (lines 13-15) where the first title belongs.
    Bad(
        "metadata-where-title-belongs",
        (HEADER + "  • 3 authors\n·\nFeb 7, 2024\n\nFirst Paper Title\n\nAn abstract.\n").encode(),
        13,
        "metadata",
    ),
    # Two metadata blocks in a row: the second (line 21) stands where a title belongs.
    Bad(
        "metadata-twice",
        (_good_lines(19) + "\n  • 4 authors\n·\nFeb 8, 2024\n").encode(),
        21,
        "metadata",
    ),
    # Title on line 13, then metadata (line 15) where the abstract belongs.
    Bad(
        "entry-without-abstract",
        (HEADER + "First Paper Title\n\n  • 3 authors\n·\nFeb 7, 2024\n").encode(),
        15,
        "abstract",
    ),
    # Metadata block of three lines without the `·` separator, starting on line 17.
    Bad("malformed-metadata", _replace_line(GOOD, 18, "-").encode(), 17, "metadata"),
    Bad("bad-date-feb-30", _replace_line(GOOD, 19, "Feb 30, 2024").encode(), 19, "date"),
    Bad("bad-date-feb-29-non-leap-year", _replace_line(GOOD, 19, "Feb 29, 2023").encode(), 19, "date"),
    Bad("bad-date-not-a-date", _replace_line(GOOD, 19, "Feb 7th, 2024").encode(), 19, "date"),
    # Well-formed as far as the patterns go, but impossible; at f0bc96d each of
    # these crashed the build with a traceback (strptime or SQLite OverflowError).
    Bad("bad-date-year-0000", _replace_line(GOOD, 19, "Feb 7, 0000").encode(), 19, "date"),
    Bad("bad-date-year-9999", _replace_line(GOOD, 19, "Feb 7, 9999").encode(), 19, "date"),
    Bad(
        "upvotes-beyond-sqlite-integer",
        _replace_line(GOOD, 19, "Feb 7, 2024 99999999999999999999999").encode(),
        19,
        "upvote",
    ),
    Bad(
        "authors-beyond-sqlite-integer",
        _replace_line(GOOD, 17, "  • 99999999999999999999999 authors").encode(),
        17,
        "author",
    ),
    Bad("bad-page-date-feb-30", _replace_line(GOOD, 11, "Feb 30").encode(), 11, "date"),
    # The page date must be a block of its own.
    Bad("page-date-not-alone", (HEADER[: -len("\n")] + "First Paper Title\n").encode(), 11, "date"),
    Bad(
        "prose",
        b"It was a bright cold day in April, and the clocks were striking thirteen.\n"
        b"Winston Smith, his chin nuzzled into his breast, slipped quickly through\n"
        b"the glass doors of Victory Mansions.\n",
        1,
        "page",
    ),
    Bad("prose-after-blank-lines", b"\n\n  \nCall me Ishmael.\n\nSome years ago...\n", 4, "page"),
    # A scrape saved without line breaks: one 10 MB line, longer than any listing line (20,000 characters).
    Bad("one-10-mb-line", b"<html>" + b"x" * 10_000_000, 1, "longer than 20,000 characters"),
    # An abstract (line 23) of 20,001 characters: ASCII, UTF-16, and four-byte characters.
    Bad("abstract-of-20001-characters", GOOD.replace("Another abstract.", "a" * 20_001).encode(), 23, "longer than 20,000"),
    Bad(
        "abstract-of-20001-characters-utf16",
        codecs.BOM_UTF16_LE + GOOD.replace("Another abstract.", "a" * 20_001).encode("utf-16-le"),
        23,
        "longer than 20,000",
    ),
    Bad("abstract-of-20001-emoji", GOOD.replace("Another abstract.", "\U0001F600" * 20_001).encode(), 23, "longer than 20,000"),
    Bad("chrome-without-page-date", b"new\n\nGet trending papers in your email inbox!\n\nSubscribe\n", 5, "page date"),
    Bad("page-date-without-entries", HEADER.encode(), 11, "entries"),
]


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAPERS_DB, *map(str, args)],
        cwd=cwd,  # never the repository: no data/ or data/dumps.yml picked up by accident
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], prefix: str) -> str:
    """Exit 1, one `Error: ...` line on stderr starting with `prefix`, no traceback anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, repr(result.stderr)
    assert len(result.stderr.splitlines()) == 1, repr(result.stderr)
    line = result.stderr.rstrip("\n")
    assert line.startswith("Error: "), line
    assert line.startswith(f"Error: {prefix}"), line
    return line


def tmp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".papers.db.*.tmp"))


def build_good(tmp_path: Path) -> tuple[Path, bytes, set[str]]:
    """A good database in its own folder; returns its path, bytes and the folder's listing."""
    good_dir = tmp_path / "good"
    good_dir.mkdir()
    (good_dir / GOOD_NAME).write_text(GOOD, encoding="utf-8")
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "papers.db"
    result = run_cli("build", "--db", db, good_dir / GOOD_NAME, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("built: 1 dumps"), result.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from papers").fetchone()[0] == 2
    conn.close()
    return db, db.read_bytes(), {p.name for p in db_dir.iterdir()}


def assert_untouched(db: Path, before: bytes, listing: set[str]) -> None:
    assert db.read_bytes() == before, "a failed build changed the database"
    assert tmp_files(db.parent) == []
    assert {p.name for p in db.parent.iterdir()} == listing


@pytest.mark.parametrize("bad", BAD_DUMPS, ids=[bad.id for bad in BAD_DUMPS])
def test_bad_dump_fails_cleanly(tmp_path: Path, bad: Bad) -> None:
    db, before, listing = build_good(tmp_path)

    # 1. A new dump (a name the database has not seen).
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    dump = bad_dir / f"{bad.id}.txt"
    dump.write_bytes(bad.content)
    line = assert_one_line_error(run_cli("build", "--db", db, dump, cwd=tmp_path), f"{dump}:{bad.line}: ")
    assert bad.hint.lower() in line.lower(), line
    assert_untouched(db, before, listing)

    # 2. A changed dump: same name as the one already loaded, now broken.
    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    changed = changed_dir / GOOD_NAME
    changed.write_bytes(bad.content)
    assert_one_line_error(run_cli("build", "--db", db, changed, cwd=tmp_path), f"{changed}:{bad.line}: ")
    assert_untouched(db, before, listing)

    # 3. With --rebuild the old database must survive a failure too.
    assert_one_line_error(run_cli("build", "--rebuild", "--db", db, dump, cwd=tmp_path), f"{dump}:{bad.line}: ")
    assert_untouched(db, before, listing)

    # 4. No database yet: a failed first build creates none.
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = fresh_dir / "papers.db"
    assert_one_line_error(run_cli("build", "--db", fresh, dump, cwd=tmp_path), f"{dump}:{bad.line}: ")
    assert list(fresh_dir.iterdir()) == []


def test_bad_dump_among_good_ones_publishes_nothing(tmp_path: Path) -> None:
    """A valid new dump loaded in the same build as a bad one is not published either."""
    db, before, listing = build_good(tmp_path)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_other.txt").write_text(OTHER_GOOD, encoding="utf-8")
    bad = folder / "b_bad.txt"
    bad.write_text(_replace_line(GOOD, 19, "Feb 30, 2024"), encoding="utf-8")
    (folder / "c_more.txt").write_text(OTHER_GOOD.replace("Third", "Fourth"), encoding="utf-8")
    # Named one by one, and found in a folder: the error names the file inside it.
    assert_one_line_error(
        run_cli("build", "--db", db, folder / "a_other.txt", bad, cwd=tmp_path), f"{bad}:19: "
    )
    assert_untouched(db, before, listing)
    assert_one_line_error(run_cli("build", "--db", db, folder, cwd=tmp_path), f"{bad}:19: ")
    assert_untouched(db, before, listing)


def test_page_date_feb_29_needs_a_leap_capture_year(tmp_path: Path) -> None:
    """Page date Feb 29 while the entries put the capture after 2024: no crash, no impossible date.

    The dump prints Feb 7, 2024, so it was captured in 2025 or later; the first such year with a
    Feb 29 is 2028. (At f0bc96d `_capture_date` ran strptime("Feb 29 2025") and the build died with
    a traceback.)
    """
    dump = tmp_path / "feb29.txt"
    dump.write_text(_replace_line(GOOD, 11, "Feb 29"), encoding="utf-8")
    db = tmp_path / "papers.db"
    result = run_cli("build", "--db", db, dump, cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr + result.stdout, result.stderr
    assert tmp_files(tmp_path) == []
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("select page_date, capture_year, capture_date, capture_source from dumps").fetchone()
    finally:
        conn.close()
    assert row == ("Feb 29", 2028, "2028-02-29", "explicit-years")


# Big enough to span several 64 KiB reads in UTF-16 and to put most of it past
# any sniffing of the first kilobytes: HEADER, then 400 entries of 4 lines each.
# Entry k's title is on line 13 + 4 * (k - 1); entry 300's is on line 1209.
LONG = HEADER + "".join(
    f"Paper number {k}\n\n" + "A long abstract sentence that takes up some room. " * 4 + "\n\n"
    for k in range(1, 401)
)
DEEP_LINE = 13 + 4 * (300 - 1)


def _encode_with_bad_bytes(text: str, line: int, encoding: str, bad: bytes) -> bytes:
    """`text` encoded (with BOM for UTF-16), `bad` inserted at the start of `line`."""
    bom = {"utf-8": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
    out = bytearray(bom)
    for number, part in enumerate(text.splitlines(keepends=True), start=1):
        if number == line:
            out += bad
        out += part.encode(encoding)
    if line > len(text.splitlines()):
        out += bad
    return bytes(out)


ENCODING_ERRORS = [
    # (id, text, line, encoding, bad bytes, hint)
    ("utf16le-lone-surrogate-line-15", GOOD, 15, "utf-16-le", b"\x00\xd8", "utf-16"),
    ("utf16be-lone-surrogate-line-15", GOOD, 15, "utf-16-be", b"\xd8\x00", "utf-16"),
    ("utf16le-lone-low-surrogate-line-13", GOOD, 13, "utf-16-le", b"\x00\xdc", "utf-16"),
    ("utf16le-lone-surrogate-deep", LONG, DEEP_LINE, "utf-16-le", b"\x00\xd8", "utf-16"),
    ("utf16be-lone-surrogate-deep", LONG, DEEP_LINE, "utf-16-be", b"\xd8\x00", "utf-16"),
    # GOOD ends with a newline, so bytes after it are on line 24.
    ("utf16le-high-surrogate-at-eof", GOOD, 24, "utf-16-le", b"\x00\xd8", "utf-16"),
    ("utf16le-odd-byte-at-eof", GOOD, 24, "utf-16-le", b"A", "utf-16"),
    ("utf8-invalid-byte-deep", LONG, DEEP_LINE, "utf-8", b"\xff", "utf-8"),
    ("utf8-nul-byte-deep", LONG, DEEP_LINE, "utf-8", b"\x00", "nul"),
]


@pytest.mark.parametrize(
    "text, line, encoding, bad, hint",
    [pytest.param(*case[1:], id=case[0]) for case in ENCODING_ERRORS],
)
def test_encoding_error_names_its_line(
    tmp_path: Path, text: str, line: int, encoding: str, bad: bytes, hint: str
) -> None:
    """The line of a bad byte is reported exactly, also deep inside a big file.

    (At f0bc96d an invalid UTF-16 code unit was reported on the first line of
    the 64 KiB block holding it: line 1 for any small file.)
    """
    # The same text without the bad bytes is a valid dump.
    clean = tmp_path / "clean.txt"
    clean.write_bytes(_encode_with_bad_bytes(text, line, encoding, b""))
    assert run_cli("build", "--db", tmp_path / "clean.db", clean, cwd=tmp_path).returncode == 0

    db, before, listing = build_good(tmp_path)
    dump = tmp_path / "bad.txt"
    dump.write_bytes(_encode_with_bad_bytes(text, line, encoding, bad))
    message = assert_one_line_error(run_cli("build", "--db", db, dump, cwd=tmp_path), f"{dump}:{line}: ")
    assert hint in message.lower(), message
    assert_untouched(db, before, listing)


def test_missing_dump_path_is_a_usage_error(tmp_path: Path) -> None:
    db, before, listing = build_good(tmp_path)
    missing = tmp_path / "nowhere" / "missing.txt"
    for args in (
        ["build", "--db", db, missing],
        ["build", "--db", db, tmp_path / "good" / GOOD_NAME, missing],
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (result.returncode, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stdout == ""
        assert "Error: " in result.stderr
        assert str(missing) in result.stderr
        assert "does not exist" in result.stderr
        assert_untouched(db, before, listing)


def test_db_option_without_value_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("build", "--db", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Error: " in result.stderr and "--db" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_db_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    dump = tmp_path / GOOD_NAME
    dump.write_text(GOOD, encoding="utf-8")
    folder = tmp_path / "adir"
    folder.mkdir()
    result = run_cli("build", "--db", folder, dump, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Error: " in result.stderr and str(folder) in result.stderr
    assert list(folder.iterdir()) == []


def test_db_that_is_another_sqlite_database(tmp_path: Path) -> None:
    dump = tmp_path / GOOD_NAME
    dump.write_text(GOOD, encoding="utf-8")
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "papers.db"
    conn = sqlite3.connect(db)
    conn.execute("create table notes (id integer primary key, body text)")
    conn.execute("insert into notes (body) values ('keep me')")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    line = assert_one_line_error(run_cli("build", "--db", db, dump, cwd=tmp_path), f"{db}: ")
    assert "not a papers database" in line and line.endswith("use --rebuild to replace it")
    assert db.read_bytes() == before
    assert sorted(p.name for p in db_dir.iterdir()) == ["papers.db"]


@pytest.mark.parametrize("folder", ["run #1", "what?"])
def test_db_path_with_uri_characters(tmp_path: Path, folder: str) -> None:
    """'#' and '?' in the --db path are part of the file name.

    (At f0bc96d `_read_only` opened f"file:{db_path}?mode=ro" unquoted: the second
    build failed with "not a papers database" and SQLite created a stray empty
    file at the cut-short path.)
    """
    dump = tmp_path / GOOD_NAME
    dump.write_text(GOOD, encoding="utf-8")
    db_dir = tmp_path / folder
    db_dir.mkdir()
    db = db_dir / "papers.db"
    first = run_cli("build", "--db", db, dump, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    listing = sorted(p.name for p in tmp_path.iterdir())
    second = run_cli("build", "--db", db, dump, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("up to date:"), second.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


# Odd but readable: each loads (exit 0) with the warning it deserves, or none.
ODD = [
    # The first entry again as the third: two appearances of one paper, and a warning.
    (
        "paper-twice-in-one-dump",
        GOOD + "\nFirst Paper Title\n\nAn abstract line with code at https://github.com/owner/repo.\n",
        ["warning: {path}: 'First Paper Title' is listed more than once (positions 1, 3)"],
        {"select count(*) from papers": 2, "select count(*) from appearances": 3},
    ),
    # Stray control characters in title and abstract are dropped; nothing to warn about.
    (
        "stray-control-characters",
        GOOD.replace("First Paper Title", "First\x07 Paper\x1b Title\x7f").replace("Another abstract.", "Another\x0c abstract.\x85"),
        [],
        {"select count(*) from papers where title = 'First Paper Title'": 1,
         "select count(*) from papers where abstract = 'Another abstract.'": 1},
    ),
    # An abstract of 20,000 characters (the longest line a listing may have), four bytes each, loads whole.
    (
        "longest-abstract",
        GOOD.replace("Another abstract.", "\U0001F600" * 19_999 + "."),
        [],
        {"select max(length(abstract)) from papers": 20_000},
    ),
]


@pytest.mark.parametrize("name, text, warnings, checks", ODD, ids=[odd[0] for odd in ODD])
def test_odd_dump_loads_with_its_warnings(tmp_path: Path, name: str, text: str, warnings: list[str], checks: dict) -> None:
    dump = tmp_path / f"{name}.txt"
    dump.write_text(text, encoding="utf-8")
    db = tmp_path / "papers.db"
    result = run_cli("build", "--db", db, dump, cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines() == [warning.format(path=dump) for warning in warnings]
    assert result.stdout.startswith("built: 1 dumps (1 loaded, 0 unchanged)"), result.stdout
    with sqlite3.connect(db) as conn:
        for sql, expected in checks.items():
            assert conn.execute(sql).fetchone()[0] == expected, sql
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        conn.execute("insert into papers_fts(papers_fts, rank) values ('integrity-check', 1)")


def test_check_refuses_to_publish_an_index_that_disagrees_with_its_text(tmp_path: Path) -> None:
    """`--check` runs FTS5's integrity-check: text changed behind the index's back is caught."""
    db, _, listing = build_good(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("drop trigger papers_au")  # as a careless hand edit would, without re-indexing
        conn.execute("update papers set abstract = 'rewritten by hand' where title = 'First Paper Title'")
    conn.close()
    damaged = db.read_bytes()
    other = tmp_path / "other.txt"
    other.write_text(GOOD.replace("First Paper Title", "A Third Title").replace("Second", "Fourth"), encoding="utf-8")
    result = run_cli("build", "--check", "--db", db, other, cwd=tmp_path)
    assert_one_line_error(result, "FTS5 integrity-check of papers_fts failed: ")
    assert_untouched(db, damaged, listing)
    unchecked = run_cli("build", "--db", db, other, cwd=tmp_path)  # what the check is for: this one publishes
    assert unchecked.returncode == 0, unchecked.stderr
