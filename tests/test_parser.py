"""The pure parser, on small dumps written by hand."""

from __future__ import annotations

import io

import pytest

from loader.parser import DumpError, Entry, MonthDay, decode_lines, parse_dump

CHROME = """new

Get trending papers in your email inbox!

Subscribe

Daily Papers

byAK and the research community

Jan 8
"""


def parse(text: str | bytes, name: str = "dump.txt") -> tuple:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    page, entries = parse_dump(decode_lines(io.BytesIO(raw), name), name)
    return page, list(entries)


def test_chrome_date_and_an_entry_with_authors_and_explicit_year():
    page, entries = parse(CHROME + "\nA Title\n\nAn abstract.\n\n  • 11 authors\n·\nFeb 7, 2024\n")
    assert page.date == MonthDay(1, 8)
    assert page.line == 11
    assert entries == [
        Entry(position=1, line=13, title="A Title", abstract="An abstract.", authors_count=11, date=MonthDay(2, 7, 2024))
    ]


def test_chrome_without_daily_papers_line():
    text = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research community\n\nMar 11\n\nT\n\nA\n"
    page, entries = parse(text)
    assert page.date == MonthDay(3, 11)
    assert [(e.title, e.abstract, e.date) for e in entries] == [("T", "A", None)]


def test_organisation_instead_of_authors():
    _, [entry] = parse(CHROME + "\nT\n\nA\n\nKaLM-Embedding KaLM-Embedding\n·\nOct 2, 2024\n")
    assert entry.organisation == "KaLM-Embedding KaLM-Embedding"
    assert entry.authors_count is None


def test_one_author_singular():
    _, [entry] = parse(CHROME + "\nT\n\nA\n\n  • 1 author\n·\nOct 2, 2024\n")
    assert entry.authors_count == 1


@pytest.mark.parametrize(
    "date_line, date, upvotes",
    [
        ("Feb 7, 2024", MonthDay(2, 7, 2024), None),
        ("Jun 11, 2025 2", MonthDay(6, 11, 2025), 2),
        ("Jun 12", MonthDay(6, 12), None),
        ("Jun 12 17", MonthDay(6, 12), 17),
        ("Feb 29, 2024", MonthDay(2, 29, 2024), None),
        ("Feb 29", MonthDay(2, 29), None),
    ],
)
def test_dates_with_and_without_year_and_upvotes(date_line, date, upvotes):
    _, [entry] = parse(CHROME + f"\nT\n\nA\n\n  • 2 authors\n·\n{date_line}\n")
    assert (entry.date, entry.upvotes) == (date, upvotes)


def test_month_day_iso_and_printed_forms():
    assert MonthDay(6, 12).iso() == "--06-12"
    assert MonthDay(2, 7, 2024).iso() == "2024-02-07"
    assert MonthDay(6, 12).printed() == "Jun 12"
    assert MonthDay(2, 7, 2024).printed() == "Feb 7, 2024"


def test_entries_with_and_without_metadata_are_numbered_in_order():
    text = CHROME + "\nFirst\n\nA1\n\nSecond\n\nA2\n\n  • 3 authors\n·\nMay 1\n\nThird\n\nA3\n"
    _, entries = parse(text)
    assert [(e.position, e.title, e.authors_count) for e in entries] == [
        (1, "First", None),
        (2, "Second", 3),
        (3, "Third", None),
    ]
    assert [e.line for e in entries] == [13, 17, 25]


def test_same_paper_twice_in_one_dump_gives_two_entries():
    _, entries = parse(CHROME + "\nT\n\nA\n\nT\n\nA\n")
    assert [e.position for e in entries] == [1, 2]


def test_bom_crlf_and_utf16_read_like_plain_utf8():
    text = CHROME + "\nTitre é\n\nRésumé — ü.\n\n  • 2 authors\n·\nJun 12 3\n"
    expected = parse(text)
    assert parse(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")) == expected
    assert parse(text.encode("utf-16")) == expected  # BOM + native order
    assert parse(b"\xfe\xff" + text.replace("\n", "\r\n").encode("utf-16-be")) == expected
    assert parse(b"\xff\xfe" + text.encode("utf-16-le")) == expected


def test_stray_control_characters_are_dropped():
    _, [entry] = parse(CHROME + "\nT\x07itle\x1b\n\nAb\x0cstract\x7f\n")
    assert (entry.title, entry.abstract) == ("Title", "Abstract")


def test_no_trailing_newline():
    _, [entry] = parse(CHROME + "\nT\n\nA")
    assert entry.abstract == "A"


def error_of(raw: str | bytes) -> DumpError:
    with pytest.raises(DumpError) as caught:
        parse(raw, "bad.txt")
    return caught.value


TRUNCATED = "truncated metadata: expected authors or organisation, '\u00b7', date"


@pytest.mark.parametrize(
    "raw, line, message",
    [
        (b"", 1, "empty file: not a dump"),
        ("\n\n   \n", 1, "empty file: not a dump"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary data (NUL byte): not a text dump"),
        ("Some prose that is not a dump.\n", 1, "expected the page chrome and page date, found 'Some prose that is not a dump.'"),
        ("new\n\nSubscribe\n", 3, "no page date after the page chrome: truncated or not a dump"),
        ("new\n\nFeb 30\n", 3, "bad page date: no such date: Feb 30"),
        (CHROME.replace("Jan 8", "Jan 8, 2024"), 11, "expected the page chrome and page date, found 'Jan 8, 2024'"),
        (CHROME.replace("Jan 8", "Jan 8\nT"), 11, "the page date must stand alone"),
        (CHROME, 11, "no entries after the page date: truncated dump"),
        (CHROME + "\nTitle only\n", 13, "truncated entry: title 'Title only' has no abstract"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\n", 18, TRUNCATED),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n", 17, TRUNCATED),
        (CHROME + "\nT\n\nA\n\nFeb 7, 2024\n\nT2\n\nA2\n", 17, TRUNCATED),  # a date alone is metadata
        (CHROME + "\nT\n\nA\n\nSome Org\nFeb 7, 2024\n\nT2\n\nA2\n", 18, TRUNCATED),  # so are two lines
        (CHROME + "\nT\n\n  \u2022 3 authors\n\u00b7\nFeb 7, 2024\n", 15, "metadata out of place: entry 'T' has no abstract"),
        (CHROME + "\n  \u2022 3 authors\n\u00b7\nFeb 7, 2024\n", 13, "metadata out of place: '\u2022 3 authors' where a title belongs"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\nFeb 30, 2024\n", 19, "bad date: no such date: Feb 30"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\nFeb 7, 1066\n", 19, "bad date: year 1066 out of range 1900-2999"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\nFeb 7, 2024 1000000001\n", 19, "bad date: upvote count 1000000001 is implausible"),
        (CHROME + "\nT\n\nA\n\n  \u2022 1000000001 authors\n\u00b7\nFeb 7, 2024\n", 17, "author count 1000000001 is implausible"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\nsometime\n", 19, "expected a date like 'Feb 7, 2024', found 'sometime'"),
        (CHROME + "\nT\n\nA\n\n  \u2022 3 authors\nx\nFeb 7, 2024\n", 17, "malformed metadata: expected authors or organisation, '\u00b7', date"),
    ],
)
def test_malformed_input_raises_dump_error_with_file_and_line(raw, line, message):
    error = error_of(raw)
    assert (error.filename, error.line, error.message) == ("bad.txt", line, message)
    assert str(error) == f"bad.txt:{line}: {message}"


def test_the_page_date_may_close_a_block_of_chrome_lines():
    page, _ = parse(CHROME.replace("\n\nbyAK", "\nbyAK").replace("\n\nJan 8", "\nJan 8") + "\nT\n\nA\n")
    assert (page.date, page.line) == (MonthDay(1, 8), 9)  # Daily Papers, byAK..., Jan 8: one block of three


def test_the_page_date_may_follow_the_chrome_in_its_block_and_counts_up_to_a_billion_are_plausible():
    page, [entry] = parse(CHROME.replace("\n\nJan 8", "\nJan 8") + "\nT\n\nA\n\n  \u2022 1000000000 authors\n\u00b7\nFeb 7, 2024 1000000000\n")
    assert (page.date, page.line) == (MonthDay(1, 8), 10)
    assert (entry.authors_count, entry.upvotes) == (10**9, 10**9)


def test_invalid_utf8_names_its_line():
    raw = (CHROME + "\nT\n\nA\n").encode("utf-8").replace(b"\nA\n", b"\nA \xff\xfe bad\n")
    error = error_of(raw)
    assert (error.filename, error.line, error.message) == ("bad.txt", 15, "invalid UTF-8 at byte 3 of the line")


def test_invalid_utf16_is_a_dump_error():
    raw = "\ufeffnew\n".encode("utf-16-le") + b"\x00\xd8\x41\x00"  # lone high surrogate
    assert "UTF-16" in error_of(raw).message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("character", ["a", "\u00e9", "\U0001f600"])  # one, two and four bytes of UTF-8
def test_a_line_of_20000_characters_is_read_and_one_more_is_refused(encoding, character):
    fine = CHROME + "\nT\n\n" + character * 20_000 + "\n"
    lines = [text for _, text in decode_lines(io.BytesIO(fine.encode(encoding)), "long.txt")]
    assert lines[-1] == character * 20_000
    long = CHROME + "\nT\n\n" + character * 20_001 + "\n"
    with pytest.raises(DumpError) as caught:
        list(decode_lines(io.BytesIO(long.encode(encoding)), "long.txt"))
    assert (caught.value.filename, caught.value.line) == ("long.txt", 15)
    assert caught.value.message == "line longer than 20,000 characters: not a listing line"


def test_a_line_too_long_to_read_whole_is_refused_even_when_cut_inside_a_character():
    # 80,003 bytes of three-byte characters: the bounded read of 80,003 bytes ends inside one.
    raw = ("x" + "\u20ac" * 30_000 + "\n").encode("utf-8")
    with pytest.raises(DumpError) as caught:
        list(decode_lines(io.BytesIO(raw), "long.txt"))
    assert (caught.value.filename, caught.value.line) == ("long.txt", 1)
    assert caught.value.message == "line longer than 20,000 characters: not a listing line"


@pytest.mark.parametrize("year, leap", [(2024, True), (2000, True), (2023, False), (1900, False), (2100, False), (2400, True)])
def test_feb_29_only_in_a_leap_year(year, leap):
    dump = CHROME + f"\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\nFeb 29, {year}\n"
    if leap:
        [entry] = parse(dump)[1]
        assert entry.date == MonthDay(2, 29, year)
    else:
        error = error_of(dump)
        assert (error.line, error.message) == (19, "bad date: no such date: Feb 29")


def test_an_error_quotes_at_most_60_characters_of_the_line():
    sixty, sixty_one = "x" * 59 + "y", "x" * 59 + "yz"
    dump = CHROME + "\nT\n\nA\n\n  \u2022 3 authors\n\u00b7\n{}\n"
    assert error_of(dump.format(sixty)).message == f"expected a date like 'Feb 7, 2024', found '{sixty}'"
    assert error_of(dump.format(sixty_one)).message == "expected a date like 'Feb 7, 2024', found '" + "x" * 59 + "\u2026'"


def utf16_lines(text: str, encoding: str) -> list[tuple[int, str]]:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    return list(decode_lines(io.BytesIO(bom + text.encode(encoding)), "u16.txt"))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_utf16_numbers_and_strips_lines_as_utf8_does_with_or_without_a_last_newline(encoding, ending):
    text = ending.join(["\rfirst", "", "second\r", "last"])
    expected = list(decode_lines(io.BytesIO(text.encode("utf-8")), "u8.txt"))
    assert expected == [(1, "\rfirst"), (2, ""), (3, "second"), (4, "last")]  # a CR is dropped only at the end
    assert utf16_lines(text, encoding) == expected
    assert utf16_lines(text + ending, encoding) == expected
    assert utf16_lines(text + "\r", encoding) == expected  # a last line ending in CR and no LF


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_invalid_utf16_names_its_file_and_line(encoding):
    # "\u010a" is a character whose UTF-16 unit holds the byte of a newline: it must not count as one.
    good = "first\n\u010a second\nthird ".encode(encoding)
    lone = "\ud800".encode(encoding, "surrogatepass")  # a high surrogate followed by no low one
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    with pytest.raises(DumpError) as caught:
        list(decode_lines(io.BytesIO(bom + good + lone + "x\n".encode(encoding)), "u16.txt"))
    assert (caught.value.filename, caught.value.line, caught.value.message) == ("u16.txt", 3, "invalid UTF-16 text")
    with pytest.raises(DumpError) as caught:  # an odd byte at the end: half a character
        list(decode_lines(io.BytesIO(bom + good + b"\x00"), "u16.txt"))
    assert (caught.value.filename, caught.value.line, caught.value.message) == ("u16.txt", 3, "invalid UTF-16 text")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_last_line_without_newline_is_held_to_the_limit_too(encoding):
    with pytest.raises(DumpError) as caught:
        utf16_lines("first\n" + "a" * 20_001, encoding)
    assert (caught.value.filename, caught.value.line) == ("u16.txt", 2)
    assert caught.value.message == "line longer than 20,000 characters: not a listing line"


class Endless(io.RawIOBase):
    """A stream that never ends and holds no newline: the parser must stop reading it by itself."""

    def __init__(self, head: bytes, unit: bytes) -> None:
        self.pending, self.unit, self.served = head, unit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(self.pending) < len(buffer):
            self.pending += self.unit * (len(buffer) // len(self.unit) + 1)
        size = len(buffer) - len(buffer) % len(self.unit)
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        self.served += size
        assert self.served < 10_000_000, "read on and on"
        return size


@pytest.mark.parametrize("head, unit", [(b"", b"a"), (b"\xff\xfe", "a".encode("utf-16-le")), (b"\xfe\xff", "a".encode("utf-16-be"))])
def test_a_line_that_never_ends_is_refused_after_a_bounded_read(head, unit):
    stream = Endless(head, unit)
    with pytest.raises(DumpError) as caught:
        list(decode_lines(io.BufferedReader(stream), "endless.txt"))
    assert (caught.value.line, caught.value.message) == (1, "line longer than 20,000 characters: not a listing line")
    assert stream.served < 300_000  # a few reads of 64 KiB at most


def test_a_nul_byte_names_the_line_of_the_first_one_near_the_start_or_far_into_the_file():
    assert (error_of(b"new\n\x00\nmore\n\x00\n").line, error_of(b"new\n\x00\nmore\n\x00\n").message) == (
        2, "binary data (NUL byte): not a text dump"
    )
    far = (CHROME + "\nT\n\n" + "a long abstract line\n" * 1000).encode("utf-8") + b"x\x00y\n"  # past the first 8 KiB
    error = error_of(far)
    assert (error.filename, error.line, error.message) == ("bad.txt", 1015, "binary data (NUL byte): not a text dump")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("end", ["\n", ""])
def test_only_the_line_end_is_stripped(encoding, end):
    raw = ("Model X\r\nends in X \t\nX \t" + end).encode(encoding)
    assert list(decode_lines(io.BytesIO(raw), "x.txt")) == [(1, "Model X"), (2, "ends in X \t"), (3, "X \t")]
