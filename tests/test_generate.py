"""The synthetic dump generator (bench/generate.py): real format, every variation, determinism."""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

from bench.generate import generate
from loader.build import build
from loader.records import title_key
from loader.links import find_links
from loader.parser import parse_file

PAPERS = 1000

# Each link shape the generator promises, as it shows in the raw text.
URL_SHAPES = {
    "plain, ending the abstract": re.compile(r" https://github\.com/[\w-]+/[\w.-]+$", re.M),
    "trailing '.'": re.compile(r" https://github\.com/[\w-]+/[\w-]+\.(?: |$)", re.M),
    "trailing ')'": re.compile(r"\((?:see )?https://github\.com/[\w-]+/[\w-]+\)"),
    "trailing '/'": re.compile(r"https://github\.com/[\w-]+/[\w-]+/\."),
    ".git": re.compile(r"https://github\.com/[\w-]+/[\w-]+\.git\b"),
    "deep link": re.compile(r"https://github\.com/[\w-]+/[\w-]+/tree/main"),
    "https;//": re.compile(r" https;//github\.com/[\w-]+/[\w-]+"),
    "no scheme": re.compile(r" github\.com/[\w-]+/[\w-]+"),
    "at~https://": re.compile(r"at~https://github\.com/[\w-]+/[\w-]+"),
    "github.io page": re.compile(r"https://[\w-]+\.github\.io\b"),
    "github.io without scheme": re.compile(r" [\w-]+\.github\.io/[\w-]+"),
    "huggingface": re.compile(r"https://huggingface\.co/[\w-]+"),
}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dumps")
    generate(PAPERS, folder, dumps=10, seed=0)
    return folder


@pytest.fixture(scope="module")
def one_dump(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one")
    generate(PAPERS, folder, dumps=None, seed=0)
    return folder


@lru_cache(maxsize=None)
def parsed(folder: Path) -> list[tuple]:
    """(page, entries) of every dump in `folder`, in file order; parsed once per folder."""
    return [parse_file(str(path)) for path in sorted(folder.glob("*.txt"))]


def test_file_names_and_counts(dumps, one_dump):
    assert [p.name for p in sorted(dumps.glob("*.txt"))] == [f"gen_{i:05d}.txt" for i in range(1, 11)]
    assert [p.name for p in one_dump.glob("*.txt")] == ["gen_00001.txt"]


@pytest.mark.parametrize("which", ["dumps", "one_dump"])
def test_every_file_parses_and_titles_are_unique_papers(which, request):
    folder = request.getfixturevalue(which)
    abstracts: dict[str, set[str]] = defaultdict(set)
    entries = 0
    for _, listing in parsed(folder):
        entries += len(listing)
        for entry in listing:
            abstracts[title_key(entry.title)].add(entry.abstract)
    assert len(abstracts) == PAPERS
    assert all(len(texts) == 1 for texts in abstracts.values())  # a repeat has the same abstract
    if which == "one_dump":
        assert entries == PAPERS
    else:
        assert entries > PAPERS * 1.1  # repeats on top of the distinct papers


def test_repeats_come_from_earlier_dumps(dumps):
    first_seen: dict[str, int] = {}
    repeats = 0
    for number, (_, listing) in enumerate(parsed(dumps)):
        keys = [title_key(entry.title) for entry in listing]
        assert len(keys) == len(set(keys))  # no paper twice on one listing
        for key in keys:
            if key in first_seen:
                assert first_seen[key] < number
                repeats += 1
            else:
                first_seen[key] = number
    assert repeats > 100


def test_page_dates_follow_the_file_order(dumps):
    pages = [page.date for page, _ in parsed(dumps)]
    # Capture dates run from 2023 to 2026: month/day wraps around at most three times.
    wraps = sum((b.month, b.day) < (a.month, a.day) for a, b in zip(pages, pages[1:]))
    assert wraps <= 3


def test_every_variation_occurs(dumps, one_dump):
    entries = [entry for folder in (dumps, one_dump) for _, listing in parsed(folder) for entry in listing]
    dated = [entry for entry in entries if entry.date]
    assert 0 < len(dated) < len(entries)  # metadata present and missing
    assert any(entry.authors_count for entry in dated)
    assert any(entry.organisation for entry in dated)
    assert any(entry.date.year is None for entry in dated)  # year-less dates
    assert any(entry.date.year is not None for entry in dated)
    assert any(entry.upvotes is not None for entry in dated)
    assert any(entry.upvotes is None for entry in dated)
    texts = [path.read_text(encoding="utf-8") for folder in (dumps, one_dump) for path in folder.glob("*.txt")]
    assert any("\n\nDaily Papers\n\n" in text for text in texts)
    assert any("\n\nDaily Papers\n\n" not in text for text in texts)
    assert any(re.search(r"\n\n  • \d+ authors\n·\n\w{3} \d+(, \d{4})?( \d+)?(\n\n|$)", text) for text in texts)
    assert any(re.search(r"\n\n(\S+) \1\n·\n", text) for text in texts)  # organisation line
    for shape, pattern in URL_SHAPES.items():
        assert any(pattern.search(text) for text in texts), shape
    for word in ("pre-training", "fine-tuning", "self-supervised"):
        assert any(word in text for text in texts), word


def test_links_are_only_the_intended_ones(dumps):
    """The walk over real text brings in no stray URLs; every generated link is classified."""
    abstracts = {entry.abstract for _, listing in parsed(dumps) for entry in listing}
    kinds = defaultdict(int)
    for abstract in abstracts:
        for link in find_links(abstract):
            kinds[link.kind] += 1
    assert set(kinds) == {"code", "project", "huggingface"}
    with_links = sum(1 for abstract in abstracts if find_links(abstract))
    assert 0.25 < with_links / len(abstracts) < 0.45


def test_common_words_as_common_as_in_real_text(dumps):
    abstracts = {entry.abstract.lower() for _, listing in parsed(dumps) for entry in listing}
    share = lambda word: sum(bool(re.search(rf"\b{word}\b", a)) for a in abstracts) / len(abstracts)  # noqa: E731
    assert share("the") > 0.95
    assert 0.4 < share("model") < 0.9


def test_same_seed_same_bytes_whatever_the_jobs(dumps, tmp_path):
    again = tmp_path / "again"
    generate(PAPERS, again, dumps=10, seed=0, jobs=2)
    for path in sorted(dumps.glob("*.txt")):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    other = tmp_path / "other"
    generate(PAPERS, other, dumps=10, seed=1)
    assert (other / "gen_00001.txt").read_bytes() != (dumps / "gen_00001.txt").read_bytes()


def test_same_seed_same_bytes_one_dump(one_dump, tmp_path):
    generate(PAPERS, tmp_path, dumps=None, seed=0)
    assert (tmp_path / "gen_00001.txt").read_bytes() == (one_dump / "gen_00001.txt").read_bytes()


def test_builds_into_the_database(dumps, tmp_path):
    db = tmp_path / "papers.db"
    summary = build(db, [dumps])
    assert summary.papers == PAPERS
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from papers").fetchone()[0] == PAPERS
        assert conn.execute("select count(*) from dumps where capture_source = 'conflict'").fetchone()[0] == 0
        # Every printed year is earlier than the capture year the loader inferred.
        late = conn.execute(
            "select count(*) from appearances a join dumps d on d.name = a.dump "
            "where a.date_iso not like '--%' and cast(substr(a.date_iso, 1, 4) as integer) >= d.capture_year"
        ).fetchone()[0]
        assert late == 0
        captures = [row[0] for row in conn.execute("select capture_date from dumps order by name") if row[0]]
        assert captures == sorted(captures)
        assert conn.execute("select count(*) from repos where papers > 1").fetchone()[0] > 0
