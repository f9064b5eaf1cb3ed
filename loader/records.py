"""Dump -> rows: what the loader writes for each entry, computed without the database.

Everything here is pure (a dump file in, tuples out), so a bulk build can run
it in a second process while the first one writes: at a million papers,
parsing, compounds and links were half of a build's time.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from .links import find_links
from .parser import Entry, Page, decode_lines, parse_dump
from .text import search_terms

T = TypeVar("T")

BATCH_SIZE = 2000
# Shares of the work (see `rows_of_dumps`) take whole dumps when there are at least this
# many per share, so no file is parsed twice; fewer, they take batches.
DUMPS_PER_SHARE = 8


# The columns of `papers` each row of `Rows.papers` holds, in order: what a load writes of a paper
# (the rest is derived from its listings; loader/build.py, loader/staging.py).
PAPER_ROW = ("id", "title", "abstract", "title_key", "search_terms")


@dataclass
class Rows:
    """One batch of a dump, as rows of `papers`, `appearances`, `links` and `repos`."""

    papers: list[tuple] = field(default_factory=list)  # as PAPER_ROW
    appearances: list[tuple] = field(default_factory=list)  # as the table's columns
    links: list[tuple] = field(default_factory=list)  # as the table's columns
    repos: dict[str, tuple] = field(default_factory=dict)  # id -> (id, host, owner, name, url)
    vectors: list[tuple[int, bytes]] = field(default_factory=list)  # (paper id, int8 vector): see loader.vectors
    read: int = 0  # bytes of the dump read so far, for a progress bar


@dataclass
class DumpDone:
    """The end of one dump: its page header and how many entries it had."""

    page: Page
    count: int


def title_key(title: str) -> str:
    """The normalised title: case, accents' compatibility forms, punctuation and spacing folded."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.findall(r"\w+", folded))


def paper_id(title: str) -> int:
    """A stable integer id from the normalised title, below 2**53 so JavaScript keeps it exact."""
    return _id_for_key(title_key(title))


def _id_for_key(key: str) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 11


def rows_of_dumps(
    dumps: list[tuple[Path, str]], share: tuple[int, int] = (0, 1)
) -> Iterator[tuple[str, Rows | DumpDone]]:
    """The rows of each (path, name) in turn, batch by batch, then its `DumpDone`; raises `DumpError`.

    `share=(k, n)` computes only the k-th of n shares, which `interleave` puts
    back in order: with many dumps, dumps k, k + n, k + 2n, ...; with few (one
    large dump, say), batches k, k + n, ... counted across the dumps, each
    share then parsing every file (the cheaper part of the work).
    """
    mine, shares = share
    whole = shares == 1 or by_whole_dumps(len(dumps), shares)
    index = 0
    for number, (path, name) in enumerate(dumps):
        if whole and number % shares != mine:
            continue
        with open(path, "rb") as stream:
            page, entries = parse_dump(decode_lines(stream, str(path)), str(path))
            count = 0
            for batch in batches(entries, BATCH_SIZE):
                count += len(batch)
                if whole or index % shares == mine:
                    rows = rows_for(name, batch)
                    rows.read = stream.tell()
                    yield name, rows
                index += 1
        yield name, DumpDone(page, count)


def by_whole_dumps(dumps: int, shares: int) -> bool:
    """Whether shares take whole dumps: only with enough of them to even out their sizes."""
    return dumps >= DUMPS_PER_SHARE * shares


def interleave(
    shares: list[Iterator[tuple[str, Rows | DumpDone]]], dumps: int
) -> Iterator[tuple[str, Rows | DumpDone]]:
    """The parts of `rows_of_dumps` for `dumps` dumps from its n shares, in the order one process would yield them."""
    if by_whole_dumps(dumps, len(shares)):
        for number in range(dumps):
            for name, part in shares[number % len(shares)]:
                yield name, part
                if isinstance(part, DumpDone):
                    break
        return
    # Batch i comes from share i mod n. When the share whose turn it is ends a
    # dump instead, every other share has ended it too.
    turn = 0
    while True:
        try:
            name, part = next(shares[turn])
        except StopIteration:
            return
        if isinstance(part, DumpDone):
            for other in shares[:turn] + shares[turn + 1 :]:
                next(other)  # its own DumpDone of the same dump
        else:
            turn = (turn + 1) % len(shares)
        yield name, part


def rows_for(dump_name: str, batch: list[Entry]) -> Rows:
    rows = Rows()
    for entry in batch:
        key = title_key(entry.title)
        pid = _id_for_key(key)
        rows.papers.append((pid, entry.title, entry.abstract, key, search_terms(entry.title, entry.abstract)))
        rows.appearances.append(
            (
                dump_name,
                entry.position,
                pid,
                entry.upvotes,
                entry.date.printed() if entry.date else None,
                entry.date.iso() if entry.date else None,
                entry.authors_count,
                entry.organisation,
            )
        )
        for ordinal, link in enumerate(find_links(entry.abstract), start=1):
            repo = link.repo
            if repo:
                rows.repos[repo.id] = (repo.id, repo.host, repo.owner, repo.name, repo.url)
            rows.links.append((pid, ordinal, link.url, link.raw, link.kind, link.host, repo.id if repo else None, link.path))
    return rows


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last may be shorter): what is held at once stays bounded."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
