"""Property tests: generated dumps round-trip through the parser, any bytes fail only with DumpError,
and whatever a build stores is valid UTF-8.

The renderer here is written from the format as the dumps show it (chrome, the
page date, then title / abstract / optional `who · date` blocks), not from the
parser, so a round trip checks one against the other.
"""

from __future__ import annotations

import codecs
import io
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loader.build import build
from loader.schema import FTS_TABLES
from loader.parser import (
    AUTHORS_RE,
    ENTRY_DATE_RE,
    MAX_COUNT,
    MONTHS,
    SEPARATOR,
    DumpError,
    Entry,
    MonthDay,
    decode_lines,
    parse_dump,
)

CHROME = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers", "byAK and the research community"]
DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# One line of text as a listing shows it: no control characters (the parser drops them), no
# surrogates, nothing blank around it, and not a line that reads as metadata.
LINE = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=60)
    .filter(lambda text: text == text.strip() and text != "")
    .filter(lambda text: text != SEPARATOR and not AUTHORS_RE.match(text) and not ENTRY_DATE_RE.match(text))
)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@st.composite
def month_days(draw, with_year: bool) -> MonthDay:
    month = draw(st.integers(1, 12))
    year = draw(st.none() | st.integers(1900, 2999)) if with_year else None
    last = 28 if month == 2 and year is not None and not is_leap(year) else DAYS[month - 1]
    return MonthDay(month, draw(st.integers(1, last)), year)


@st.composite
def entries(draw, position: int) -> Entry:
    title, abstract = draw(LINE), draw(LINE)
    if not draw(st.booleans()):
        return Entry(position, 0, title, abstract)
    authors = draw(st.none() | st.integers(1, MAX_COUNT))
    organisation = None if authors is not None else draw(LINE)
    return Entry(
        position,
        0,
        title,
        abstract,
        authors_count=authors,
        organisation=organisation,
        date=draw(month_days(with_year=True)),
        upvotes=draw(st.none() | st.integers(0, MAX_COUNT)),
    )


@st.composite
def dumps(draw) -> tuple[MonthDay, list[Entry]]:
    count = draw(st.integers(1, 6))
    return draw(month_days(with_year=False)), [draw(entries(position)) for position in range(1, count + 1)]


def render_date(date: MonthDay, upvotes: int | None) -> str:
    text = f"{MONTHS[date.month - 1]} {date.day}" + (f", {date.year}" if date.year is not None else "")
    return text + (f" {upvotes}" if upvotes is not None else "")


def render(page_date: MonthDay, listing: list[Entry]) -> str:
    blocks = CHROME + [render_date(page_date, None)]
    for entry in listing:
        blocks += [entry.title, entry.abstract]
        if entry.date is not None:
            who = entry.organisation if entry.authors_count is None else (
                f"  • {entry.authors_count} author" + ("s" if entry.authors_count != 1 else "")
            )
            blocks.append(f"{who}\n{SEPARATOR}\n{render_date(entry.date, entry.upvotes)}")
    return "\n\n".join(blocks) + "\n"


ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "crlf": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16-le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be crlf": lambda text: codecs.BOM_UTF16_BE + text.replace("\n", "\r\n").encode("utf-16-be"),
}


def parse_bytes(data: bytes) -> tuple:
    page, listing = parse_dump(decode_lines(io.BytesIO(data), "gen.txt"), "gen.txt")
    return page, list(listing)


def without_lines(entry: Entry) -> Entry:
    return Entry(entry.position, 0, entry.title, entry.abstract, entry.authors_count, entry.organisation, entry.date, entry.upvotes)


@settings(max_examples=300, deadline=None)
@given(dumps(), st.sampled_from(sorted(ENCODINGS)))
def test_rendered_dumps_parse_back_to_the_same_records(dump, encoding):
    page_date, listing = dump
    page, parsed = parse_bytes(ENCODINGS[encoding](render(page_date, listing)))
    assert page.date == page_date
    assert [without_lines(entry) for entry in parsed] == listing


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_dump_error(data):
    try:
        parse_bytes(data)
    except DumpError as error:
        assert str(error).startswith("gen.txt:") and "\n" not in str(error)


@settings(max_examples=500, deadline=None)
@given(dumps(), st.sampled_from(sorted(ENCODINGS)), st.data())
def test_damaged_dumps_raise_only_dump_error(dump, encoding, data):
    """Real-looking bytes with a few bytes overwritten, cut or inserted: the parser's hardest inputs."""
    raw = bytearray(ENCODINGS[encoding](render(*dump)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["replace", "insert", "cut"]))
        byte = data.draw(st.integers(0, 255))
        if action == "insert" or at == len(raw):
            raw[at:at] = bytes([byte])
        elif action == "replace":
            raw[at] = byte
        else:
            del raw[at:]
    try:
        page, parsed = parse_bytes(bytes(raw))
    except DumpError:
        return
    for entry in parsed:  # what parses is text a database can store
        for text in (entry.title, entry.abstract, entry.organisation or ""):
            text.encode("utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dumps())
def test_everything_a_build_stores_is_valid_utf8(tmp_path: Path, dump):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: the fixture is shared by all
    (folder / "gen.txt").write_bytes(ENCODINGS["utf-16-le"](render(*dump)))
    db = folder / "papers.db"
    build(db, [folder])
    conn = sqlite3.connect(db)
    conn.text_factory = bytes  # read the stored bytes, not Python's decoding of them
    tables = [row[0].decode() for row in conn.execute("select name from sqlite_master where type = 'table'")]
    checked = 0
    for table in tables:
        for row in conn.execute(f"select * from [{table}]"):
            for value in row:
                binary = table in ("paper_vectors", *(f"{index}_data" for index in FTS_TABLES)) or table.endswith(("_idx", "_docsize"))
                if isinstance(value, bytes) and not binary:
                    value.decode("utf-8")  # raises on invalid UTF-8
                    checked += 1
    titles = {row[0].decode() for row in conn.execute("select title from papers")}
    assert titles and titles <= {entry.title for entry in dump[1]}  # entries whose titles normalise alike merge
    assert checked >= 2 * len(titles)
