"""Relevance benchmark: hand-judged queries against the `search` saved query and a baseline.

Ours is the `search` saved query, asked through Datasette exactly as a user
asks it. The baseline is what Datasette gives out of the box: a plain FTS5
index (unicode61 tokenizer) over title and abstract, queried with Datasette's
default escaping (`escape_fts`) and ordered by FTS5's rank. The peer is what
a site would pick instead of SQLite FTS5: tantivy, a Lucene-class engine, over
the same rows (English stemming, BM25, title boosted 10, words OR-ed; see
`bench.relevance.peer`), in a second table printed after the first.

Metrics, per query then averaged (overall and per class):
- Recall@k = expected papers in the top k / min(k, number expected), so a
  perfect ranking scores 1 even when several papers are expected;
- MRR = 1 / rank of the first expected paper (0 when none is returned).

Run: `make bench-relevance` (or `python -m bench.relevance.evaluate [--write-docs]`).
`--write-docs` writes the first table only, as before the peer was added.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import math
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import yaml
from datasette.utils import escape_fts

from loader.build import build
from loader.site import ROOT, datasette_instance

JUDGEMENTS = Path(__file__).with_name("queries.yml")
# Queries written before the some-words tier was tuned, and never tuned on: reported on their own.
HELD_OUT = Path(__file__).with_name("held_out.yml")
TYPOS = Path(__file__).with_name("typos.yml")
HELD_OUT_PREFIX, HELD_OUT_ALL = "held-out ", "held-out all"
SPELT_RIGHT = "spelt right"  # the class of the typo queries as spelt right
OWN_ROW = ("description", "typo", f"typo {SPELT_RIGHT}")  # classes outside the totals (see `groups`)
DOCS = ROOT / "docs" / "search.md"
DEPTH = 10  # results looked at per query
TABLE_START, TABLE_END = "<!-- relevance:start -->", "<!-- relevance:end -->"
MODES_START, MODES_END = "<!-- modes:start -->", "<!-- modes:end -->"


@dataclass(frozen=True)
class Query:
    q: str
    kind: str
    expected: tuple[str, ...]


@dataclass
class Scores:
    recall_1: list[float] = field(default_factory=list)
    recall_5: list[float] = field(default_factory=list)
    reciprocal_ranks: list[float] = field(default_factory=list)

    def add(self, ranking: list[str], expected: tuple[str, ...]) -> None:
        for k, bucket in ((1, self.recall_1), (5, self.recall_5)):
            bucket.append(len(set(ranking[:k]) & set(expected)) / min(k, len(expected)))
        rank = next((i for i, title in enumerate(ranking, start=1) if title in expected), None)
        self.reciprocal_ranks.append(1 / rank if rank else 0.0)

    @property
    def summary(self) -> tuple[float, float, float]:
        n = len(self.reciprocal_ranks)
        return (sum(self.recall_1) / n, sum(self.recall_5) / n, sum(self.reciprocal_ranks) / n)


@dataclass
class Report:
    ours: dict[str, Scores]
    baseline: dict[str, Scores]
    misses: list[tuple[str, str, list[str]]]  # (query, class, our top 5) where ours missed at 5
    related_found: int
    related_total: int
    peer: dict[str, Scores] = field(default_factory=dict)  # tantivy (bench.relevance.peer); empty when not run
    peer_index: str = ""  # its build time and size, for the line under its table

    def _rows(self) -> list[tuple[str, str, int]]:
        """Each class in table order: its key, its label (totals in bold) and its number of queries."""
        return [
            (kind, f"**{kind}**" if kind in ("all", HELD_OUT_ALL) else kind, len(self.ours[kind].reciprocal_ranks))
            for kind in sorted(self.ours, key=row_order)
        ]

    def table(self) -> str:
        lines = [
            "| class | queries | baseline R@1 | baseline R@5 | baseline MRR | ours R@1 | ours R@5 | ours MRR |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind, name, n in self._rows():
            b, o = self.baseline[kind].summary, self.ours[kind].summary
            lines.append(f"| {name} | {n} | " + " | ".join(f"{v:.3f}" for v in (*b, *o)) + " |")
        lines.append("")
        lines.append(
            f"Related papers: the partner is in the top 5 for {self.related_found} of "
            f"{self.related_total} directed pairs ({self.related_found / self.related_total:.0%})."
        )
        return "\n".join(lines)

    def peer_table(self) -> str:
        """The peer's scores per class, the same rows as `table()`, with ours again for reading across."""
        lines = [
            "| class | queries | tantivy R@1 | tantivy R@5 | tantivy MRR | ours R@5 | ours MRR | MRR ours − tantivy |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind, name, n in self._rows():
            p, o = self.peer[kind].summary, self.ours[kind].summary
            values = " | ".join(f"{v:.3f}" for v in (*p, o[1], o[2]))
            lines.append(f"| {name} | {n} | {values} | {o[2] - p[2]:+.3f} |")
        if self.peer_index:
            lines += ["", self.peer_index]
        return "\n".join(lines)


def load_judgements(path: Path = JUDGEMENTS) -> tuple[list[Query], list[tuple[str, str]]]:
    """The tuned queries and the related pairs, then the held-out queries (classes `held-out ...`)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    queries = list(_queries(data["queries"]))
    queries += _queries(yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))["queries"], HELD_OUT_PREFIX)
    pairs = [(item["a"], item["b"]) for item in data["related"]]
    return queries, pairs


def _queries(items: list[dict], prefix: str = "") -> Iterator[Query]:
    """Each judged query; a typo's query spelt right (`spelt`) too, in a class of its own beside it."""
    for item in items:
        kind = f"{prefix}{item['class']}"
        yield Query(str(item["q"]), kind, tuple(item["expected"]))
        if "spelt" in item:
            yield Query(str(item["spelt"]), f"{kind} {SPELT_RIGHT}", tuple(item["expected"]))


def groups(query: Query) -> tuple[str, ...]:
    """The rows a query counts in: its class, and "all" (tuned) or "held-out" (never tuned on).

    A description (`OWN_ROW`) counts in its class only: it is written to be found by meaning, not
    by the paper's words, and the totals stay those of the queries that use the paper's words. So do
    the typos and the same queries spelt right: they repeat queries of other classes.
    """
    if query.kind.removeprefix(HELD_OUT_PREFIX) in OWN_ROW:
        return (query.kind,)
    return query.kind, HELD_OUT_ALL if query.kind.startswith(HELD_OUT_PREFIX) else "all"


def row_order(kind: str) -> tuple[bool, bool, str]:
    """Tuned classes, "all", then the held-out classes and their total."""
    held = kind.startswith(HELD_OUT_PREFIX)
    return (held, kind in ("all", HELD_OUT_ALL), kind)


def baseline_index(db: Path) -> sqlite3.Connection:
    """Datasette's out-of-the-box search: plain unicode61 FTS5 over title and abstract."""
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table fts using fts5(title, abstract, tokenize='unicode61')")
    source = sqlite3.connect(db)
    conn.executemany("insert into fts values (?, ?)", source.execute("select title, abstract from papers"))
    return conn


def baseline_search(conn: sqlite3.Connection, q: str) -> list[str]:
    try:
        rows = conn.execute(
            "select title from fts where fts match ? order by rank limit ?", [escape_fts(q), DEPTH]
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # Datasette shows an error page here; for the benchmark that is no result
    return [title for (title,) in rows]


MODES = ("words", "meaning", "both")  # the `search` query's `mode`; words is its default


async def our_search(site, q: str, mode: str = "") -> list[str]:
    response = await site.client.get("/papers/search.json", params={"q": q, "_shape": "array", "mode": mode})
    response.raise_for_status()
    return [row["title"] for row in response.json()][:DEPTH]


async def related_hits(site, db: Path, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """How many directed pairs find their partner among the `related` saved query's five answers."""
    ids = dict(sqlite3.connect(db).execute("select title, id from papers"))
    found = 0
    for a, b in pairs:
        for one, other in ((a, b), (b, a)):
            response = await site.client.get("/papers/related.json", params={"id": ids[one], "_shape": "array"})
            response.raise_for_status()
            found += ids[other] in {row["id"] for row in response.json()}
    return found, 2 * len(pairs)


async def evaluate(db: Path, *, peer: bool = True, mode: str = "") -> Report:
    """Score ours (in `mode`, '' for the site's default) and the baseline; with `peer`, tantivy too."""
    queries, pairs = load_judgements()
    site = datasette_instance(db)
    base = baseline_index(db)
    ours: dict[str, Scores] = defaultdict(Scores)
    baseline: dict[str, Scores] = defaultdict(Scores)
    misses = []
    for query in queries:
        ranking = await our_search(site, query.q, mode)
        base_ranking = baseline_search(base, query.q)
        for kind in groups(query):
            ours[kind].add(ranking, query.expected)
            baseline[kind].add(base_ranking, query.expected)
        if not set(ranking[:5]) & set(query.expected):
            misses.append((query.q, query.kind, ranking[:5]))
    found, total = await related_hits(site, db, pairs)
    report = Report(dict(ours), dict(baseline), misses, found, total)
    if peer:
        report.peer, report.peer_index = peer_scores(db, queries)
    return report


def peer_scores(db: Path, queries: list[Query]) -> tuple[dict[str, Scores], str]:
    """Tantivy's scores per class over the papers of `db`, and a line on its index."""
    from bench.relevance.peer import build_index  # imported here: only the peer needs tantivy

    with build_index(db) as index:
        scores = scored((query, index.titles(query.q, DEPTH)) for query in queries)
        line = (
            f"Tantivy index of the same {index.papers} papers: built in {index.seconds:.2f} s, "
            f"{index.size_bytes() / 1e6:.2f} MB."
        )
    return scores, line


def scored(rankings: Iterable[tuple[Query, list[str]]]) -> dict[str, Scores]:
    """Each query's ranking scored in every row it counts in (`groups`)."""
    scores: dict[str, Scores] = defaultdict(Scores)
    for query, ranking in rankings:
        for kind in groups(query):
            scores[kind].add(ranking, query.expected)
    return dict(scores)


def replace_between(path: Path, start_marker: str, end_marker: str, content: str) -> None:
    """Replace what stands between two markers of a document (a generated table)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(start_marker) + len(start_marker), text.index(end_marker)
    path.write_text(text[:start] + "\n" + content + "\n" + text[end:], encoding="utf-8")


async def by_mode(db: Path) -> dict[str, dict[str, Scores]]:
    """Ours in each mode: per class, its scores."""
    queries, _ = load_judgements()
    site = datasette_instance(db)
    scores: dict[str, dict[str, Scores]] = {}
    for mode in MODES:
        scores[mode] = scored([(query, await our_search(site, query.q, mode)) for query in queries])
    return scores


def modes_table(scores: dict[str, dict[str, Scores]]) -> str:
    """Recall@5 and MRR per class in each mode."""
    lines = [
        "| class | queries | " + " | ".join(f"{mode} R@5 | {mode} MRR" for mode in MODES) + " |",
        "|---|---|" + "---|---|" * len(MODES),
    ]
    for kind in sorted(scores[MODES[0]], key=row_order):
        name = f"**{kind}**" if kind in ("all", HELD_OUT_ALL) else kind
        cells = [f"{scores[mode][kind].summary[i]:.3f}" for mode in MODES for i in (1, 2)]
        lines.append(f"| {name} | {len(scores[MODES[0]][kind].reciprocal_ranks)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(report: Report, modes: dict[str, dict[str, Scores]], path: Path = DOCS) -> None:
    replace_between(path, TABLE_START, TABLE_END, report.table())
    replace_between(path, MODES_START, MODES_END, modes_table(modes))


@dataclass
class Spelling:
    """How the correction step (`loader.spelling`) does on a database: the single-word typos of
    typos.yml (right when the suggestion is the word meant, or none for a name), and its time."""

    right: dict[str, int]  # "tuned" / "held-out" -> typos whose suggestion is right
    total: dict[str, int]
    wrong: list[tuple[str, str | None, str | None]]  # typed, suggested, meant
    milliseconds: list[float]  # per judged query, from nothing cached
    spelt_right: int = 0  # judged queries without a typo in them
    unasked: list[tuple[str, str]] = field(default_factory=list)  # of those, each offered a suggestion: typed, offered

    def summary(self) -> str:
        shares = ", ".join(f"{kind} {self.right[kind]} of {self.total[kind]}" for kind in self.total)
        wrong = "; ".join(f"`{typed}` -> {suggested} (meant {meant})" for typed, suggested, meant in self.wrong)
        unasked = ", ".join(f"`{typed}` -> `{offered}`" for typed, offered in self.unasked)
        times = sorted(self.milliseconds)
        return (
            f"Suggestions right for the single-word typos: {shares}" + (f"; wrong: {wrong}" if wrong else "") + ". "
            f"Suggestions offered for the judged queries spelt right: {len(self.unasked)} of {self.spelt_right}"
            + (f" ({unasked})" if unasked else "") + ". "
            f"Time of the correction step per judged query ({len(times)}): p50 {times[len(times) // 2]:.2f} ms, "
            f"p95 {times[max(0, math.ceil(0.95 * len(times)) - 1)]:.2f} ms."
        )


def spelling_check(db: Path, queries: list[Query]) -> Spelling:
    from loader.spelling import of_connection

    typos = yaml.safe_load(TYPOS.read_text(encoding="utf-8"))["typos"]
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    wrong, times, unasked, spelt_right = [], [], [], 0
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for typo in typos:
            kind = "held-out" if typo.get("held_out") else "tuned"
            suggested = of_connection(conn).suggestion(typo["typed"])
            total[kind] += 1
            right[kind] += suggested == typo["correction"]
            if suggested != typo["correction"]:
                wrong.append((typo["typed"], suggested, typo["correction"]))
        for query in queries:
            started = time.perf_counter()
            offered = of_connection(conn).suggestion(query.q)  # a new instance: nothing cached
            times.append((time.perf_counter() - started) * 1000)
            if not query.kind.endswith("typo"):
                spelt_right += 1
                unasked.extend(_changed_words(query.q, offered) if offered else [])
    return Spelling(dict(right), dict(total), wrong, times, spelt_right, unasked)


def _changed_words(typed: str, offered: str) -> list[tuple[str, str]]:
    """The words a suggestion changed: (typed, offered) for each run of them."""
    before, after = typed.split(), offered.split()
    runs = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    return [(" ".join(before[i:j]), " ".join(after[k:m])) for op, i, j, k, m in runs if op != "equal"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-docs", action="store_true", help=f"replace the table in {DOCS.relative_to(ROOT)}")
    parser.add_argument("--misses", action="store_true", help="list the queries ours misses at 5")
    parser.add_argument("--no-peer", action="store_true", help="leave tantivy out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "papers.db"
        build(db, [ROOT / "data"])
        report = asyncio.run(evaluate(db, peer=not args.no_peer))
        modes = asyncio.run(by_mode(db))
        spelling = spelling_check(db, load_judgements()[0])
    print(report.table())
    print()
    print(spelling.summary())
    print()
    print(modes_table(modes))
    if report.peer:
        print()
        print(report.peer_table())
    if args.misses:
        for q, kind, top in report.misses:
            print(f"\nMISS [{kind}] {q}\n  " + "\n  ".join(top))
    if args.write_docs:
        write_docs(report, modes)


if __name__ == "__main__":
    main(sys.argv[1:])
