"""Ablation of the `search` ranking: what each technique of docs/search.md contributes.

The judgements and metrics are those of `bench.relevance.evaluate`; only the
system under test changes. Six techniques are switched on and off:

1. porter stemming: the FTS tokenizer `porter unicode61 remove_diacritics 2`
   against `unicode61 remove_diacritics 2`;
2. joined compounds: the `search_terms` column indexed, and a hyphenated
   query word also asking for its joined form (`Term.fts`);
3. BM25 column weights 10/1/2 against 1/1/1;
4. the fallback tier `some_words` (any term, when fewer than ten papers hold
   every term);
5. the re-ranking by `match_boost`;
6. the exact-phrase check `exact_phrases`.

Two series are measured: a ladder that starts with all six off (the safe
query builder and the two-column-plus-empty-`search_terms` index only) and
adds one technique at a time in the order above, ending at the full system;
and leave-one-out, the full system with one technique removed. Joined
compounds are also removed half at a time (index side, query side).

Nothing of the project is edited. The database is built once into a
temporary folder; the index variants are copies whose FTS table is recreated
(other tokenizer, or `search_terms` emptied); the query variants are the
`search` SQL of metadata.yml edited in memory and served by a Datasette
instance made like `loader.site.datasette_instance`. The query side of
compounds uses two SQL functions registered only for that variant,
`fts_query_plain` and `fts_any_plain`: `loader.search` without the joined
alternate. The full-system row is checked, query by query, against
`datasette_instance` itself, so it is the number `evaluate` reports.

Run: `python -m bench.relevance.ablation [--write-docs]`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Iterator

import sqlite_utils
import yaml
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm

from bench.relevance.evaluate import (
    DOCS,
    Query,
    Scores,
    baseline_index,
    baseline_search,
    groups,
    load_judgements,
    our_search,
    replace_between,
)
from loader.build import build
from loader.schema import FTS_COLUMNS, FTS_TABLES, FTS_TOKENIZE, PAPERS, create_title_fts
from loader.search import Expand, Term, any_term, every_term, parse, to_fts_any, to_fts_query
from loader.site import METADATA, PLUGINS, ROOT, STATIC, TEMPLATES, datasette_instance, settings

METRICS = ("R@1", "R@5", "MRR")  # the order of Scores.summary
TABLE_START, TABLE_END = "<!-- ablation:start -->", "<!-- ablation:end -->"
RELEVANCE_END = "<!-- relevance:end -->"
SECTION = f"""## What each part earns

`python -m bench.relevance.ablation --write-docs` runs the benchmark's queries
over variants of the `search` query, with the same metrics. *Adding one at a
time* starts from the safe query builder alone (every technique below off:
plain `unicode61` index, no joined compounds, equal BM25 weights, no fallback
tier, no re-ranking, no exact-phrase check) and adds the techniques in order;
*removing one at a time* takes one out of the full system.

{TABLE_START}
{TABLE_END}
"""

PLAIN_TOKENIZE = FTS_TOKENIZE.removeprefix("porter ")
assert PLAIN_TOKENIZE != FTS_TOKENIZE, "the tokenizer no longer starts with porter"


@dataclass(frozen=True)
class Variant:
    """Which techniques are on; all on is the system as shipped."""

    stemming: bool = True
    compound_index: bool = True
    compound_query: bool = True
    weights: bool = True
    fallback: bool = True
    boost: bool = True
    phrases: bool = True

    def without(self, *switches: str) -> Variant:
        return replace(self, **{name: False for name in switches})

    def with_(self, *switches: str) -> Variant:
        return replace(self, **{name: True for name in switches})


FULL = Variant()
NONE = Variant(**{f.name: False for f in fields(Variant)})

# (name, switches), in the order of the ladder.
TECHNIQUES: list[tuple[str, tuple[str, ...]]] = [
    ("porter stemming", ("stemming",)),
    ("joined compounds", ("compound_index", "compound_query")),
    ("BM25 weights 10/1/2", ("weights",)),
    ("some-words fallback", ("fallback",)),
    ("match_boost re-ranking", ("boost",)),
    ("exact-phrase check", ("phrases",)),
]
# Leave-one-out extras: the two halves of joined compounds.
HALVES: list[tuple[str, tuple[str, ...]]] = [
    ("joined compounds, index column only", ("compound_index",)),
    ("joined compounds, query alternates only", ("compound_query",)),
]

# What a switched-off technique does to the `search` SQL: (text, replacement); the text must be there.
SQL_EDITS: dict[str, list[tuple[str, str]]] = {
    "compound_query": [("fts_query(:q)", "fts_query_plain(:q)"), ("fts_any(:q)", "fts_any_plain(:q)")],
    "weights": [("bm25_bounded(papers_fts, 10.0, 1.0, 2.0, 0.0)", "bm25_bounded(papers_fts, 1.0, 1.0, 1.0, 0.0)")],
    "fallback": [("(select count(*) from every_word) < 10", "(select count(*) from every_word) < 0")],
    "boost": [("match_boost(:q, p.title, p.abstract)", "1.0")],
    "phrases": [("exact_phrases(:q, p.title, p.abstract)", "1")],
}


# --- The query side of compounds, switched off -------------------------------------------------


class _WithoutJoinedAlternate(Term):
    """A term rendered as `Term.fts` renders a quoted phrase: `pre-training` -> `"pre training"` only."""

    def fts(self, expand: Expand | None = None) -> str:
        return Term(self.words, True, self.prefix, self.column).fts(expand)


def _plain_terms(text: str | None) -> list[Term]:
    return [_WithoutJoinedAlternate(t.words, t.phrase, t.prefix, t.column) for t in parse(text)]


def fts_query_plain(text: str | None) -> str:
    """`loader.search.to_fts_query` without the joined alternate of hyphenated words."""
    return every_term(_plain_terms(text))


def fts_any_plain(text: str | None) -> str:
    """`loader.search.to_fts_any` without the joined alternate of hyphenated words."""
    return any_term(_plain_terms(text))


def _check_plain_functions(queries: list[Query]) -> None:
    """Where no term has a joined alternate, the plain functions must render what loader.search renders."""
    for query in queries:
        if any(len(t.words) > 1 and not t.phrase for t in parse(query.q)):
            continue
        for plain, shipped in ((fts_query_plain, to_fts_query), (fts_any_plain, to_fts_any)):
            if plain(query.q) != shipped(query.q):
                raise SystemExit(
                    f"{plain.__name__} drifted from loader.search for {query.q!r}: "
                    f"{plain(query.q)!r} != {shipped(query.q)!r}"
                )


class _PlainCompoundFunctions:
    @hookimpl
    def prepare_connection(self, conn):
        conn.create_function("fts_query_plain", 1, fts_query_plain, deterministic=True)
        conn.create_function("fts_any_plain", 1, fts_any_plain, deterministic=True)


@contextmanager
def _plugin(variant: Variant) -> Iterator[None]:
    if variant.compound_query:
        yield
        return
    plugin = _PlainCompoundFunctions()
    pm.register(plugin, name="bench-ablation-plain-compounds")
    try:
        yield
    finally:
        pm.unregister(plugin)


# --- Index variants --------------------------------------------------------------------------


def index_variant(source: Path, folder: Path, stemming: bool, compounds: bool, *, recreate: bool = False) -> Path:
    """A copy of the built database whose FTS index has (or lacks) stemming and joined compounds.

    With both on the built database itself is used, unless `recreate` asks for a
    copy made the same way as the others (to check that recreating changes nothing).
    """
    if stemming and compounds and not recreate:
        return source
    name = f"{'porter' if stemming else 'plain'}-{'compounds' if compounds else 'nocompounds'}"
    target = folder / name / source.name  # keeps the file name: the database is `papers` in metadata
    target.parent.mkdir()
    shutil.copyfile(source, target)
    db = sqlite_utils.Database(target)
    for (trigger,) in db.execute(
        "select name from sqlite_master where type = 'trigger' and tbl_name = ?", [PAPERS.name]
    ).fetchall():
        db.execute(f"drop trigger [{trigger}]")
    for table in FTS_TABLES:
        db[table].drop()
    if not compounds:
        db.execute(f"update {PAPERS.name} set search_terms = ''")
    # enable_fts creates the table (same columns, content=papers) and populates it.
    tokenize = FTS_TOKENIZE if stemming else PLAIN_TOKENIZE
    db[PAPERS.name].enable_fts(list(FTS_COLUMNS), tokenize=tokenize)
    create_title_fts(db, tokenize)
    for table in FTS_TABLES:
        db.execute(f"insert into {table}({table}, rank) values ('integrity-check', 1)")
    db.conn.commit()
    db.execute("vacuum")
    db.close()
    return target


# --- Query variants --------------------------------------------------------------------------


def variant_metadata(metadata: dict, variant: Variant) -> dict:
    edited = copy.deepcopy(metadata)
    query = edited["databases"]["papers"]["queries"]["search"]
    sql = query["sql"]
    for switch, edits in SQL_EDITS.items():
        if getattr(variant, switch):
            continue
        for old, new in edits:
            if old not in sql:
                raise SystemExit(f"the search SQL no longer contains {old!r}; update SQL_EDITS")
            sql = sql.replace(old, new)
    query["sql"] = sql
    return edited


def variant_site(db: Path, metadata: dict) -> Datasette:
    """Made like `loader.site.datasette_instance`, with the given metadata."""
    return Datasette(
        immutables=[str(db)],
        metadata=metadata,
        plugins_dir=str(PLUGINS),
        template_dir=str(TEMPLATES),
        static_mounts=[("static", str(STATIC))],
        settings=settings(),
    )


# --- Running ---------------------------------------------------------------------------------

Rankings = dict[str, list[str]]


async def rankings(site, queries: list[Query]) -> Rankings:
    return {query.q: await our_search(site, query.q) for query in queries}


def score(queries: list[Query], ranked: Rankings) -> dict[str, Scores]:
    scores: dict[str, Scores] = defaultdict(Scores)
    for query in queries:
        for kind in (query.kind, "all"):
            scores[kind].add(ranked[query.q], query.expected)
    return dict(scores)


@dataclass
class Row:
    name: str
    ranked: Rankings
    scores: dict[str, Scores]


@dataclass
class Ablation:
    ladder: list[Row]
    leave_one_out: list[Row]
    classes: list[str]
    queries: list[Query]
    class_metric: str = "R@5"

    def _table(self, title: str, rows: list[Row], against: str, references: list[Row | None]) -> str:
        header = ["variant", "R@1", "R@5", "MRR", "Δ MRR", *self.classes]
        lines = [f"**{title}** (Δ MRR: against {against}; class columns: {self.class_metric})", ""]
        metric = METRICS.index(self.class_metric)
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row, reference in zip(rows, references):
            r1, r5, mrr = row.scores["all"].summary
            delta = "" if reference is None else f"{mrr - reference.scores['all'].summary[2]:+.3f}"
            cells = [row.name, f"{r1:.3f}", f"{r5:.3f}", f"{mrr:.3f}", delta]
            cells += [f"{row.scores[kind].summary[metric]:.3f}" if kind in row.scores else "" for kind in self.classes]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def changes(self) -> str:
        """Per variant, the queries whose first expected paper moved (rank; '-' when not in the top 10)."""
        pairs = list(zip(self.ladder[2:], self.ladder[1:]))
        pairs += [(row, self.leave_one_out[0]) for row in self.leave_one_out[1:]]
        out = []
        for row, reference in pairs:
            out.append(f"{row.name} (against {reference.name}):")
            for query in self.queries:
                before, after = _first_rank(reference.ranked[query.q], query), _first_rank(row.ranked[query.q], query)
                if before != after:
                    out.append(f"  [{query.kind}] {query.q}: {before or '-'} -> {after or '-'}")
            if not out[-1].startswith("  "):
                out.append("  (no query moved)")
        return "\n".join(out)

    def tables(self) -> str:
        previous = [None, *self.ladder[:-1]]  # each rung against the one before it
        full, *removed = self.leave_one_out
        return (
            self._table("Adding one at a time", self.ladder, "the row above", previous)
            + "\n\n"
            + self._table("Removing one at a time", self.leave_one_out, "the full system", [None] + [full] * len(removed))
        )


async def run(db: Path, folder: Path) -> Ablation:
    queries = [query for query in load_judgements()[0] if groups(query)[-1] == "all"]  # never held-out or descriptions
    _check_plain_functions(queries)
    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    indexes: dict[tuple[bool, bool], Path] = {}
    cache: dict[Variant, Rankings] = {}

    async def measure(name: str, variant: Variant) -> Row:
        if variant not in cache:
            key = (variant.stemming, variant.compound_index)
            if key not in indexes:
                indexes[key] = index_variant(db, folder, *key)
            site = variant_site(indexes[key], variant_metadata(metadata, variant))
            with _plugin(variant):
                ranked = await rankings(site, queries)
            if variant == FULL:  # the machinery must reproduce the site exactly, recreated index included
                recreated = index_variant(db, folder, True, True, recreate=True)
                for label, site in (
                    ("datasette_instance", datasette_instance(db)),
                    ("the recreated full index", variant_site(recreated, variant_metadata(metadata, FULL))),
                ):
                    other = await rankings(site, queries)
                    if ranked != other:
                        diff = next(q for q in other if other[q] != ranked[q])
                        raise SystemExit(f"full-system variant differs from {label} on {diff!r}")
            cache[variant] = ranked
        return Row(name, cache[variant], score(queries, cache[variant]))

    base = baseline_index(db)
    baseline = {query.q: baseline_search(base, query.q) for query in queries}

    ladder = [
        Row("baseline (Datasette's FTS)", baseline, score(queries, baseline)),
        await measure("all six off (query builder only)", NONE),
    ]
    current = NONE
    for name, switches in TECHNIQUES:
        current = current.with_(*switches)
        label = f"+ {name}" + (" = full system" if current == FULL else "")
        ladder.append(await measure(label, current))
    assert current == FULL

    leave_one_out = [await measure("full system", FULL)]
    for name, switches in TECHNIQUES + HALVES:
        leave_one_out.append(await measure(f"− {name}", FULL.without(*switches)))

    classes = sorted({query.kind for query in queries})
    return Ablation(ladder, leave_one_out, classes, queries)


def _first_rank(ranking: list[str], query: Query) -> int | None:
    return next((i for i, title in enumerate(ranking, start=1) if title in query.expected), None)


def write_docs(ablation: Ablation, path: Path = DOCS) -> None:
    text = path.read_text(encoding="utf-8")
    if TABLE_START not in text:
        at = text.index(RELEVANCE_END) + len(RELEVANCE_END)
        nl = text.find("\n## ", at)  # the section goes after the relevance table's own section
        at = len(text) if nl == -1 else nl + 1
        text = text[:at].rstrip("\n") + "\n\n" + SECTION + ("\n" + text[at:] if text[at:] else "")
    path.write_text(text, encoding="utf-8")
    replace_between(path, TABLE_START, TABLE_END, ablation.tables())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-docs", action="store_true", help=f"replace the tables in {DOCS.relative_to(ROOT)}")
    parser.add_argument("--changes", action="store_true", help="list the queries each technique moves")
    parser.add_argument("--class-metric", choices=METRICS, default="R@5", help="metric of the per-class columns")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db = folder / "papers.db"
        build(db, [ROOT / "data"])
        ablation = asyncio.run(run(db, folder))
    ablation.class_metric = args.class_metric
    print(ablation.tables())
    if args.changes:
        print("\n" + ablation.changes())
    print(f"\n({time.perf_counter() - started:.1f}s)", file=sys.stderr)
    if args.write_docs:
        write_docs(ablation)


if __name__ == "__main__":
    main(sys.argv[1:])
