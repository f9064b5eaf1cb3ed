"""Each paper's derived columns from its listings, in one pass over the appearances in paper order.

A paper's listings are read in date order: undated dumps first, then by capture date, then by
dump name and position. "Latest" is the last non-null value in that order, "first" the first.
This was SQL (a window over every appearance, a second sort for the dumps' names, string
aggregates): 44 s of a million-paper build's refresh (11.9 s for the names, 32.5 s for the rest).
In Python, most papers having a single listing, that refresh took 51 to 56 s in three builds
instead of 62 to 72 s in three (docs/benchmarks.md, "The build less its embedding"), with the
same values for every column of every paper. `temp.derived` is what `loader.build._refresh_papers`
and `loader.summaries` read.
"""

from __future__ import annotations

import json
import sqlite3
from itertools import groupby
from operator import itemgetter
from typing import Iterable, Iterator

from .records import batches
from .staging import LastStaged

INSERT_BATCH = 10_000  # rows of temp.derived written at once: memory stays flat

# Its first and last count of upvotes are each the listing's place among the paper's listings
# (SEQ_DIGITS digits), the count (ten digits) and the dump's name, glued (loader/summaries.py).
SEQ_DIGITS = 10
DERIVED_COLUMNS = (
    "id", "published", "authors_count", "organisation", "first_seen", "last_seen", "first_listing",
    "first_counted", "last_counted", "counted", "appearances", "latest_upvotes", "code_links", "listed_in",
    "staged_row",  # a build from scratch's: where the paper's last text waits (loader/staging.py)
)  # fmt: skip

# Columns of `papers` that SQL computes from temp.derived's (`d` its alias), in one place for the
# update of `papers` and for the counts that read temp.derived instead (loader/summaries.py).
PUBLISHED_YEAR = "cast(substr(d.published, 1, 4) as integer)"
HAS_CODE = "d.code_links > 0"

# Code links of the papers (`only_touched` on paper_id, or ''). For every paper, one pass over all
# code links by the `kind` index; for a few, each one's links by the primary key (`+kind` keeps
# the planner off the `kind` index, which at a million papers read 300,000 code links for 200 papers).
_CODE_LINKS = "select paper_id, count(*) from links where {kind} = 'code' {only_touched} group by paper_id"

# Every paper's appearances are sorted from the table (`not indexed`): through the paper_id index,
# each row is a lookup, and the pass took 30.8 s at a million papers against 26.3 s.
_APPEARANCES = (
    "select paper_id, dump, position, date_iso, upvotes, authors_count, organisation from appearances "
    "{not_indexed} where true {only_touched} order by paper_id"
)


def derive_papers(conn: sqlite3.Connection, only_touched: str, staged: LastStaged | None = None) -> None:
    """Write `temp.derived`: a row for each paper with a listing (of those `only_touched` picks on
    `paper_id`, a SQL condition, or every paper when it is ''), with the staged row of its last
    text when the papers are `staged` (which are then the papers with a listing)."""
    kind = "+kind" if only_touched else "kind"
    code_links = dict(conn.execute(_CODE_LINKS.format(kind=kind, only_touched=only_touched)))
    captures = {name: (date, year) for name, date, year in conn.execute("select name, capture_date, capture_year from dumps")}
    # Keyed by id, which the rows come in the order of: the update of `papers` looks each one up.
    conn.execute(f"create temp table derived ({DERIVED_COLUMNS[0]} integer primary key, {', '.join(DERIVED_COLUMNS[1:])})")
    insert = f"insert into temp.derived values ({', '.join('?' * len(DERIVED_COLUMNS))})"
    appearances = _APPEARANCES.format(not_indexed="" if only_touched else "not indexed", only_touched=only_touched)
    derived = _derived_rows(conn.execute(appearances), captures, code_links)
    for batch in batches(_with_staged_rows(derived, staged), INSERT_BATCH):
        conn.executemany(insert, batch)


def _derived_rows(
    appearances: Iterable[tuple], captures: dict[str, tuple[str | None, int | None]], code_links: dict[int, int]
) -> Iterator[tuple]:
    for paper, group in groupby(appearances, itemgetter(0)):
        listings = [(captures[row[1]], *row[1:]) for row in group]
        if len(listings) == 1:  # most papers: nothing to order or compare
            yield (paper, *_derived_one(listings[0]), code_links.get(paper, 0), _json_names([listings[0][1]]))
            continue
        listings.sort(key=_reading_order)
        yield (paper, *_derived(listings), code_links.get(paper, 0), _json_names(listing[1] for listing in listings))


def _with_staged_rows(derived: Iterator[tuple], staged: LastStaged | None) -> Iterator[tuple]:
    """Each derived row with its staged row (None when nothing is staged); both come in id order."""
    if staged is None:
        yield from (row + (None,) for row in derived)
        return
    for row, paper, staged_row in zip(derived, staged.papers.tolist(), staged.rows.tolist(), strict=True):
        if row[0] != paper:
            raise AssertionError(f"paper {paper} is staged, paper {row[0]} is listed")
        yield row + (staged_row,)


def _reading_order(listing: tuple) -> tuple:
    (capture_date, _), dump, position = listing[:3]
    return (capture_date is not None, capture_date or "", dump, position)


def _derived(listings: list[tuple]) -> tuple:
    """(published, authors_count, organisation, first_seen, last_seen, first_listing, first_counted,
    last_counted, counted, appearances, latest_upvotes) of a paper's listings in reading order."""
    published = year_filled = None
    authors_count = organisation = first_listing = first_dated = None
    first_counted = last_counted = latest_upvotes = None
    counted = 0
    seen: list[str] = []
    for seq, ((capture_date, capture_year), dump, _, date, upvotes, authors, org) in enumerate(listings, start=1):
        if date is not None:
            latest_upvotes = upvotes or 0
            if not date.startswith("--"):
                published = date if published is None else max(published, date)
            elif capture_year is not None:
                filled = f"{capture_year:04d}{date[1:]}"
                year_filled = filled if year_filled is None else max(year_filled, filled)
        if authors is not None:
            authors_count = authors
        if org is not None:
            organisation = org
        if capture_date is not None:
            seen.append(capture_date)
            first_dated = first_dated or dump
        if upvotes is not None:
            last_counted = f"{seq:0{SEQ_DIGITS}d}{upvotes:010d}{dump}"
            first_counted = first_counted or last_counted
            counted += 1
        first_listing = first_listing or dump
    return (
        published if published is not None else year_filled,
        authors_count,
        organisation,
        min(seen, default=None),
        max(seen, default=None),
        first_dated or first_listing,  # the earliest dated listing, or (none dated) the first
        first_counted,
        last_counted,
        counted,
        len({listing[1] for listing in listings}),
        latest_upvotes,
    )


def _derived_one(listing: tuple) -> tuple:
    """`_derived` of a single listing, without its loop: most papers have one, and the pass over a
    million took 29 s with this against 38 s without (tests/test_derive.py checks both ways)."""
    (capture_date, capture_year), dump, _, date, upvotes, authors, organisation = listing
    published = date
    if date is not None and date.startswith("--"):
        published = None if capture_year is None else f"{capture_year:04d}{date[1:]}"
    counted = None if upvotes is None else f"{1:0{SEQ_DIGITS}d}{upvotes:010d}{dump}"
    latest_upvotes = None if date is None else upvotes or 0
    return (published, authors, organisation, capture_date, capture_date, dump, counted, counted, int(upvotes is not None), 1, latest_upvotes)


def _json_names(dumps: Iterable[str]) -> str:
    """The dumps listing a paper, once each, in name order, as a JSON array (for the array facet),
    as SQLite's json_group_array writes it; names JSON need not escape are simply joined."""
    names = sorted(set(dumps))
    if all(name.isprintable() and '"' not in name and "\\" not in name for name in names):
        return '["' + '","'.join(names) + '"]'
    return json.dumps(names, ensure_ascii=False, separators=(",", ":"))

