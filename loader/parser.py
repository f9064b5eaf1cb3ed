"""Pure parser: the text of one Daily Papers dump -> a page record and entry records.

Nothing here touches a database or the clock, so every rule about the dump
format can be tested on a few hand-written lines. The one error it raises is
`DumpError`, which always names the file and the line.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

YEARS = range(1900, 3000)  # a printed year outside this is a corrupt dump, not a date
MAX_COUNT = 10**9  # upvotes or authors beyond this are corrupt, and would not fit SQLite's integers
# A listing's longest line is an abstract, and arXiv cuts abstracts at 1,920 characters. A line
# ten times longer is a broken scrape (pages run together, a file that is not a listing); the
# site bounds the values a query may make, and the work its functions do, by this (loader/limits.py).
MAX_LINE_CHARS = 20_000
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS + 2  # UTF-8 takes at most 4 bytes a character, then CR LF
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Lines of page chrome that precede the page date, in the order the site shows them.
CHROME_LINES = frozenset(
    {
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
    }
)

_MONTH_RE = "|".join(MONTHS)
PAGE_DATE_RE = re.compile(rf"^({_MONTH_RE}) (\d{{1,2}})$")
ENTRY_DATE_RE = re.compile(rf"^({_MONTH_RE}) (\d{{1,2}})(?:, (\d{{4}}))?(?: (\d+))?$")
AUTHORS_RE = re.compile(r"^•\s*(\d+) authors?$")
SEPARATOR = "·"
# C0 controls (but tab), DEL and C1 controls: never meaningful in a listing, dropped from text.
_STRAY_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class DumpError(ValueError):
    """Input that is not a well-formed dump; `str()` is the one line a user sees."""

    def __init__(self, filename: str, line: int, message: str):
        super().__init__(f"{filename}:{line}: {message}")
        self.filename = filename
        self.line = line
        self.message = message

    def __reduce__(self):  # so it crosses from the build's worker process intact
        return (DumpError, (self.filename, self.line, self.message))


@dataclass(frozen=True)
class MonthDay:
    """A date as the listing prints it: month and day, with the year only when shown."""

    month: int
    day: int
    year: int | None = None

    def iso(self) -> str:
        """ISO 8601, using the year-less form `--MM-DD` when the page omitted the year."""
        prefix = f"{self.year:04d}" if self.year is not None else "-"
        return f"{prefix}-{self.month:02d}-{self.day:02d}"

    def printed(self) -> str:
        text = f"{MONTHS[self.month - 1]} {self.day}"
        return f"{text}, {self.year}" if self.year is not None else text


@dataclass(frozen=True)
class Page:
    filename: str
    date: MonthDay
    line: int  # line number of the page date


@dataclass(frozen=True)
class Entry:
    """One paper as it stands on one listing."""

    position: int  # 1-based place in the listing
    line: int  # line number of the title, for messages
    title: str
    abstract: str
    authors_count: int | None = None
    organisation: str | None = None
    date: MonthDay | None = None
    upvotes: int | None = None


def decode_lines(stream: BinaryIO, filename: str) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, text)` from raw bytes, one line at a time.

    UTF-8 (with or without BOM) and UTF-16 (with BOM) are accepted, LF or CRLF.
    Decoding line by line keeps memory bounded and lets a bad byte be reported
    with its line number.
    """
    reader = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = reader.peek(4)[:4]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield from _decode_utf16(reader, filename)
        return
    sniff = reader.peek(8192)
    if b"\x00" in sniff:
        line = sniff[: sniff.index(b"\x00")].count(b"\n") + 1
        raise DumpError(filename, line, "binary data (NUL byte): not a text dump")
    if head.startswith(codecs.BOM_UTF8):
        reader.read(len(codecs.BOM_UTF8))
    number = 0
    while raw := reader.readline(_MAX_LINE_BYTES + 1):  # bounded: a file with no newline is not read whole
        number += 1
        if b"\x00" in raw:
            raise DumpError(filename, number, "binary data (NUL byte): not a text dump")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            if len(raw) > _MAX_LINE_BYTES:  # cut inside a character
                raise _too_long(filename, number) from None
            raise DumpError(filename, number, f"invalid UTF-8 at byte {error.start + 1} of the line") from None
        yield number, _checked_length(text.rstrip("\r\n"), filename, number)


def _checked_length(text: str, filename: str, number: int) -> str:
    if len(text) > MAX_LINE_CHARS:
        raise _too_long(filename, number)
    return text


def _too_long(filename: str, number: int) -> DumpError:
    return DumpError(filename, number, f"line longer than {MAX_LINE_CHARS:,} characters: not a listing line")


def _decode_utf16(reader: BinaryIO, filename: str) -> Iterator[tuple[int, str]]:
    encoding = "utf-16-le" if reader.read(2) == codecs.BOM_UTF16_LE else "utf-16-be"
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    pending = ""
    number = 0
    while True:
        chunk = reader.read(1 << 16)
        try:
            pending += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            before = pending + chunk[: error.start].decode(encoding, errors="replace")
            raise DumpError(filename, number + before.count("\n") + 1, "invalid UTF-16 text") from None
        *complete, pending = pending.split("\n")
        for text in complete:
            number += 1
            yield number, _checked_length(text.rstrip("\r"), filename, number)
        _checked_length(pending, filename, number + 1)  # bounded: a file with no newline is not read whole
        if not chunk:
            break
    if pending:
        yield number + 1, pending.rstrip("\r")


def clean_text(text: str) -> str:
    """Drop stray control characters and surrounding blanks; keep every other character."""
    return _STRAY_CONTROLS.sub("", text).strip()


def _blocks(lines: Iterable[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Group numbered lines into blocks separated by blank lines."""
    block: list[tuple[int, str]] = []
    for number, text in lines:
        text = clean_text(text)
        if text:
            block.append((number, text))
        elif block:
            yield block
            block = []
    if block:
        yield block


def parse_month_day(text: str, *, with_year: bool) -> tuple[MonthDay, int | None] | None:
    """Parse `Jun 12`, `Feb 7, 2024` or `Jun 11, 2025 2` (date then upvotes).

    Returns None when the text is not a date of that shape; raises ValueError
    for a date of the right shape that cannot exist (`Feb 30`).
    """
    match = (ENTRY_DATE_RE if with_year else PAGE_DATE_RE).match(text)
    if not match:
        return None
    month = MONTHS.index(match.group(1)) + 1
    day = int(match.group(2))
    year = int(match.group(3)) if with_year and match.group(3) else None
    upvotes = int(match.group(4)) if with_year and match.group(4) else None
    if year is not None and year not in YEARS:
        raise ValueError(f"year {year} out of range {YEARS.start}-{YEARS.stop - 1}")
    if upvotes is not None and upvotes > MAX_COUNT:
        raise ValueError(f"upvote count {upvotes} is implausible")
    _check_day(month, day, year)
    return MonthDay(month, day, year), upvotes


def _check_day(month: int, day: int, year: int | None) -> None:
    limit = DAYS_IN_MONTH[month - 1]
    if month == 2 and year is not None and not _is_leap(year):
        limit = 28
    if not 1 <= day <= limit:
        raise ValueError(f"no such date: {MONTHS[month - 1]} {day}")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _is_metadata(block: list[tuple[int, str]]) -> bool:
    """A metadata block has several lines or holds the `·` separator, authors or a date."""
    texts = [text for _, text in block]
    return (
        len(block) > 1
        or SEPARATOR in texts
        or bool(AUTHORS_RE.match(texts[0]))
        or bool(ENTRY_DATE_RE.match(texts[0]))
    )


def parse_dump(lines: Iterable[tuple[int, str]], filename: str) -> tuple[Page, Iterator[Entry]]:
    """Parse numbered lines into the page record and a lazy iterator of entries.

    The page chrome and date are read at once, so a file that is not a dump
    fails before anything is written; entries are produced one at a time.
    """
    blocks = _blocks(lines)
    page = _parse_page(blocks, filename)
    return page, _parse_entries(blocks, page)


def _parse_page(blocks: Iterator[list[tuple[int, str]]], filename: str) -> Page:
    last_line = 0
    for block in blocks:
        for number, text in block:
            last_line = number
            if text in CHROME_LINES:
                continue
            try:
                parsed = parse_month_day(text, with_year=False)
            except ValueError as error:
                raise DumpError(filename, number, f"bad page date: {error}") from None
            if parsed is None:
                raise DumpError(
                    filename, number, f"expected the page chrome and page date, found {quoted(text)}"
                )
            if len(block) > 1 and (number, text) != block[-1]:
                raise DumpError(filename, number, "the page date must stand alone")
            return Page(filename, parsed[0], number)
    if last_line == 0:
        raise DumpError(filename, 1, "empty file: not a dump")
    raise DumpError(filename, last_line, "no page date after the page chrome: truncated or not a dump")


def _parse_entries(blocks: Iterator[list[tuple[int, str]]], page: Page) -> Iterator[Entry]:
    filename = page.filename
    position = 0
    pending: list[tuple[int, str]] | None = next(blocks, None)
    if pending is None:
        raise DumpError(filename, page.line, "no entries after the page date: truncated dump")
    while pending is not None:
        title_block = pending
        number, title = title_block[0]
        if _is_metadata(title_block):
            raise DumpError(filename, number, f"metadata out of place: {quoted(title)} where a title belongs")
        abstract_block = next(blocks, None)
        if abstract_block is None:
            raise DumpError(filename, number, f"truncated entry: title {quoted(title)} has no abstract")
        if _is_metadata(abstract_block):
            raise DumpError(
                filename, abstract_block[0][0], f"metadata out of place: entry {quoted(title)} has no abstract"
            )
        position += 1
        entry = Entry(position=position, line=number, title=title, abstract=abstract_block[0][1])
        pending = next(blocks, None)
        if pending is not None and _is_metadata(pending):
            entry = _with_metadata(entry, pending, filename)
            pending = next(blocks, None)
        yield entry


def _with_metadata(entry: Entry, block: list[tuple[int, str]], filename: str) -> Entry:
    """Fill in authors or organisation, date and upvotes from a `who / · / date` block."""
    texts = [text for _, text in block]
    if len(block) != 3 or texts[1] != SEPARATOR:
        number = block[-1][0] if len(block) < 3 else block[0][0]
        if len(block) < 3:
            raise DumpError(filename, number, "truncated metadata: expected authors or organisation, '·', date")
        raise DumpError(filename, number, "malformed metadata: expected authors or organisation, '·', date")
    who_line, date_line = block[0], block[2]
    try:
        parsed = parse_month_day(date_line[1], with_year=True)
    except ValueError as error:
        raise DumpError(filename, date_line[0], f"bad date: {error}") from None
    if parsed is None:
        raise DumpError(filename, date_line[0], f"expected a date like 'Feb 7, 2024', found {quoted(date_line[1])}")
    authors = AUTHORS_RE.match(who_line[1])
    if authors and int(authors.group(1)) > MAX_COUNT:
        raise DumpError(filename, who_line[0], f"author count {authors.group(1)} is implausible")
    return Entry(
        position=entry.position,
        line=entry.line,
        title=entry.title,
        abstract=entry.abstract,
        authors_count=int(authors.group(1)) if authors else None,
        organisation=None if authors else who_line[1],
        date=parsed[0],
        upvotes=parsed[1],
    )


def quoted(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def parse_file(path: str) -> tuple[Page, list[Entry]]:
    """Parse a whole file eagerly: convenient for tests and small dumps."""
    with open(path, "rb") as stream:
        page, entries = parse_dump(decode_lines(stream, str(path)), str(path))
        return page, list(entries)
