"""Relevance and speed at scale: the real papers hidden among synthetic ones, ours against tantivy.

Usage:
    .venv/bin/python -m bench.relevance.scale --papers 100000 [--out FILE.md] [--work DIR]
    .venv/bin/python -m bench.relevance.scale --papers 100000,1000000 --out docs/relevance-scale.md
    (--seed N: the generator's seed, 0; --leaky: the crowd of plain bench.generate, see below;
     --repeats N: timed requests per query, 5; --warmups N: untimed ones before them, 2)

For every size N:

1. N synthetic papers from `bench.generate` (seed 0, one dump per 1,000 papers), made an
   honest crowd (`bench.relevance.crowd`: the generator learns from the real dumps with every
   word used by fewer than 3 real papers replaced, so no synthetic paper holds a real paper's
   rare words: its name, its rare numbers and terms; --leaky skips that, for comparison);
2. ours: `loader.build.build` of those dumps plus the real data/*.txt into one database, so the
   255 real papers, the only ones the judged queries of queries.yml are about, are hidden among
   N others (time: dumps to published database: parsing, loading, FTS5 and derived tables);
3. tantivy: `bench.relevance.peer.build_index` over the id, title and abstract of the same
   database's rows (time: rows to committed, merged index);
4. the crowd is checked (`crowd.audit`): how many of the real papers' rare words and rare word
   triples the synthetic papers hold, and how many synthetic papers hold every word of a query;
5. ours: one real server process (`loader.site.serve_command(db, host, port, reload=False)`) on
   a free loopback port; every judged query is asked as
   `/papers/search.json?q=...&_shape=array`, `--warmups` times untimed then `--repeats` times
   timed, one request after another on one keep-alive connection, each with a 30 s timeout;
   the ranking is that of the first timed answer;
6. tantivy: the same queries, in-process (parse the visitor's text, search, fetch the stored
   titles of the top 10), with the same warm-ups and repeats.

Per query class: Recall@5 and MRR (as in `bench.relevance.evaluate`) for both, and latency p50
and p95 (nearest rank, over every timed request of the class). Ours is timed as a visitor sees
it, over HTTP with JSON; tantivy has no HTTP layer, so its times are the engine's alone.
Any answer of ours that is not a 200 (or a request that fails) is listed under "Errors".

The server is stopped (by its pid) and the work folder (a temporary one unless --work) removed
whatever happens; with --work DIR the files of size N are kept in DIR/N (emptied first).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

from bench.relevance import crowd
from bench.relevance.evaluate import DEPTH, HELD_OUT_ALL, Query, Scores, groups, load_judgements, row_order, spelling_check
from bench.relevance.peer import build_index
from bench.scale import HOST, PEER_MARKER, BenchError, datasette, free_port, peak_rss_mb, write_section
from loader.build import build
from loader.site import ROOT

REQUEST_TIMEOUT = 30.0  # seconds, every request
WARMUPS, REPEATS = 2, 5


def log(message: str) -> None:
    print(f"[relevance-scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the server
# One server process of ours, started and stopped as the scale benchmark does (bench.scale.datasette).


class Client:
    """Sequential GETs on one keep-alive connection (a new one after a failure), each with a timeout."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int | str, bytes, float]:
        """(status or error name, body, seconds)."""
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
            status: int | str = response.status
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            status, body = type(error).__name__, str(error).encode()
        return status, body, time.perf_counter() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ----------------------------------------------------------------------------- measuring


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


def search_path(q: str, mode: str = "") -> str:
    """The `search` saved query's JSON; `mode` '' is the site's default (words)."""
    return "/papers/search.json?" + urlencode({"q": q, "_shape": "array", **({"mode": mode} if mode else {})})


def measure_ours(port: int, queries: list[Query], warmups: int, repeats: int, mode: str = ""):
    """Per query: (top titles, timed seconds); and the errors: (query, status, body excerpt)."""
    client = Client(port)
    results, errors = [], []
    try:
        for query in queries:
            path = search_path(query.q, mode)
            for _ in range(warmups):
                client.get(path)
            ranking: list[str] | None = None
            times = []
            for _ in range(repeats):
                status, body, seconds = client.get(path)
                times.append(seconds)
                if status != 200:
                    errors.append((query.q, str(status), body[:300].decode("utf-8", "replace")))
                    ranking = ranking if ranking is not None else []
                    continue
                if ranking is None:
                    try:
                        ranking = [row["title"] for row in json.loads(body)][:DEPTH]
                    except (ValueError, TypeError, KeyError) as error:
                        errors.append((query.q, f"bad JSON ({type(error).__name__})", body[:300].decode("utf-8", "replace")))
                        ranking = []
            results.append((ranking or [], times))
    finally:
        client.close()
    return results, errors


OTHER_MODES = ("meaning", "both")  # measured after the default, words, on the same server


def measure_peer(index, queries: list[Query], warmups: int, repeats: int):
    results = []
    for query in queries:
        for _ in range(warmups):
            index.titles(query.q, DEPTH)
        ranking: list[str] | None = None
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            titles = index.titles(query.q, DEPTH)
            times.append(time.perf_counter() - started)
            if ranking is None:
                ranking = titles
        results.append((ranking or [], times))
    return results


def by_class(queries: list[Query], results) -> dict[str, dict]:
    """Per class (and "all"): Scores and the timed milliseconds."""
    classes: dict[str, dict] = defaultdict(lambda: {"scores": Scores(), "ms": []})
    for query, (ranking, times) in zip(queries, results):
        for kind in groups(query):
            classes[kind]["scores"].add(ranking, query.expected)
            classes[kind]["ms"] += [t * 1000 for t in times]
    return dict(classes)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _fts_bytes(db: Path) -> int | None:
    """Bytes of the FTS5 tables of ours (dbstat), or None where SQLite lacks dbstat."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "select sum(pgsize) from dbstat where name in "
                "(select name from sqlite_master where name like 'papers_fts%')"
            ).fetchone()
        finally:
            conn.close()
        return row[0]
    except sqlite3.Error:
        return None


def run_size(papers: int, work: Path, *, seed: int, honest: bool, warmups: int, repeats: int) -> dict:
    queries, _ = load_judgements()
    result: dict = {"papers": papers, "seed": seed, "honest": honest, "warmups": warmups, "repeats": repeats}

    gen = work / "gen"
    log(f"{papers} papers: generating ({'honest' if honest else 'leaky'} crowd)")
    started = time.perf_counter()
    dumps = crowd.generate(papers, gen, max(1, papers // 1000), seed, honest=honest)
    result["generate_seconds"] = time.perf_counter() - started
    result["dumps"] = len(dumps)

    db = work / "papers.db"
    log(f"{papers} papers: building ours")
    summary = build(db, [gen, ROOT / "data"], rebuild=True)
    result["ours_build_seconds"] = summary.seconds
    result["ours_papers"] = summary.papers
    result["ours_bytes"] = _size(db)
    result["ours_fts_bytes"] = _fts_bytes(db)
    result["build_warnings"] = len(summary.warnings)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        titles = {title for (title,) in conn.execute("select title from papers")}
    conn.close()
    result["missing"] = sorted({t for q in queries for t in q.expected if t not in titles})
    del titles
    log(f"{papers} papers: the typos' suggestions")
    result["spelling"] = spelling_check(db, queries)

    log(f"{papers} papers: building tantivy")
    with build_index(db, work / "tantivy") as index:
        result["peer_build_seconds"] = index.seconds
        result["peer_papers"] = index.papers
        result["peer_bytes"] = index.size_bytes()

        log(f"{papers} papers: auditing the crowd")
        result["audit"] = crowd.audit(db, [(q.kind, q.q) for q in queries])

        log(f"{papers} papers: tantivy, {len(queries)} queries x ({warmups} + {repeats})")
        peer_results = measure_peer(index, queries, warmups, repeats)

    log(f"{papers} papers: ours over HTTP, {len(queries)} queries x ({warmups} + {repeats})")
    started = time.perf_counter()
    with datasette(db, free_port(), work, "server") as proc:
        result["server_start_seconds"] = time.perf_counter() - started  # to its first answer: vectors loaded
        port = int(proc.args[proc.args.index("--port") + 1])
        ours_results, errors = measure_ours(port, queries, warmups, repeats)
        result["modes"] = {}
        for mode in OTHER_MODES:
            log(f"{papers} papers: ours in {mode} mode, {len(queries)} queries x ({warmups} + {repeats})")
            mode_results, mode_errors = measure_ours(port, queries, warmups, repeats, mode)
            result["modes"][mode] = by_class(queries, mode_results)
            errors += [(f"[{mode}] {q}", status, body) for q, status, body in mode_errors]
        result["server_peak_rss_mb"] = peak_rss_mb(proc.pid)
        result["load_average"] = os.getloadavg()[1]  # over the last 5 minutes of queries: was the machine shared?
    result["ours"] = by_class(queries, ours_results)
    result["peer"] = by_class(queries, peer_results)
    result["errors"] = errors
    result["per_query"] = [
        (q.kind, q.q, _rank(o[0], q.expected), _rank(p[0], q.expected))
        for q, o, p in zip(queries, ours_results, peer_results)
    ]
    return result


def _rank(ranking: list[str], expected: tuple[str, ...]) -> int | None:
    return next((i for i, title in enumerate(ranking, start=1) if title in expected), None)


def run(sizes: list[int], work: Path | None, *, seed: int = 0, honest: bool = True, warmups: int = WARMUPS, repeats: int = REPEATS) -> list[dict]:
    results = []
    for papers in sizes:
        if work is None:
            with tempfile.TemporaryDirectory(prefix=f"relevance-scale-{papers}-") as folder:
                results.append(run_size(papers, Path(folder), seed=seed, honest=honest, warmups=warmups, repeats=repeats))
        else:
            folder = Path(work) / str(papers)
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            results.append(run_size(papers, folder, seed=seed, honest=honest, warmups=warmups, repeats=repeats))
    return results


# ----------------------------------------------------------------------------- the report


def _mb(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} MB"


def _n(value: int) -> str:
    return f"{value:,}"


def render(results: list[dict]) -> str:
    lines = [
        "# Relevance at scale: ours against tantivy",
        "",
        "<!-- Written by `python -m bench.relevance.scale` (make bench-relevance-scale); do not edit by hand. -->",
        "",
        "The judged queries of `bench/relevance/queries.yml` (expected results: real papers) over a database "
        "holding the 255 real papers of `data/*.txt` hidden among N synthetic ones from `bench.generate`. "
        "Ours is the `search` saved query asked over HTTP of one real server process, one request at a time; "
        "tantivy (`bench/relevance/peer.py`: `en_stem`, BM25, title boosted 10, words OR-ed) indexes the same "
        "database rows and is asked in-process, so its times have no HTTP or JSON in them. "
        "Recall@5 and MRR as in `bench.relevance.evaluate`; latency percentiles by nearest rank over every "
        "timed request of a class.",
        "",
        f"Machine: {platform.platform()}, {_cpus()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, tantivy {_version('tantivy')}.",
    ]
    for r in results:
        audit = r["audit"]
        crowd_kind = (
            "honest crowd: learnt from the real dumps without the words used by fewer than 3 real papers"
            if r["honest"]
            else "leaky crowd: plain `bench.generate`, which copies the real papers' rare words and word runs"
        )
        lines += [
            "",
            f"## {_n(r['papers'])} synthetic papers + the real ones",
            "",
            f"{_n(r['ours_papers'])} papers in the database ({crowd_kind}; seed {r['seed']}, {_n(r['dumps'])} dumps, "
            f"generated in {r['generate_seconds']:.0f} s). Each query asked {r['warmups']} times untimed, "
            f"then {r['repeats']} times timed.",
            "",
            "| | ours | tantivy |",
            "|---|---|---|",
            f"| build | {r['ours_build_seconds']:.1f} s (dumps → database) | {r['peer_build_seconds']:.1f} s (database rows → index) |",
            f"| size | {r['ours_bytes'] / 1e6:.0f} MB database"
            + (f" (FTS5 tables {r['ours_fts_bytes'] / 1e6:.0f} MB)" if r.get("ours_fts_bytes") else "")
            + f" | {r['peer_bytes'] / 1e6:.0f} MB index (title stored, abstract indexed only) |",
            f"| server | answering {r['server_start_seconds']:.1f} s after its start (binary codes loaded); "
            f"peak memory {_mb(r['server_peak_rss_mb'])} after every query in every mode | in-process |",
            *query_tables(r),
        ]
        lines += [
            "",
            f"Crowd check ({_n(audit['read'])} of {_n(audit['synthetic'])} synthetic papers read): they hold "
            f"{audit['rare_words_in_crowd']} of the {audit['rare_words']} words used by fewer than 3 real papers, "
            f"and {audit['rare_triples_in_crowd']} of their {audit['rare_triples']} triples of adjacent words "
            "without a stop word used by fewer than 3 (an honest crowd writes none within a sentence: these are where "
            "two sentences meet and in the generator's own link sentences; see bench/relevance/crowd.py).",
        ]
        if audit["rare_words_seen"]:
            note = (
                " (an honest crowd learns from text without any of them: these come from the generator's "
                "own sentences for links and method names, and its made-up names)"
                if r["honest"]
                else ""
            )
            lines.append(
                f"Rare words found, most papers first{note}: "
                + ", ".join(f"`{w}` {_n(n)}" for w, n in audit["rare_words_seen"])
                + "."
            )
        identifying = [(q, n) for kind, q, n in audit["queries"] if kind in ("name", "number")]
        if identifying:
            top = sorted(identifying, key=lambda item: -item[1])[:6]
            lines.append(
                f"Synthetic papers holding every word of a name or number query: {_n(sum(n for _, n in identifying))} "
                f"over the {len(identifying)} queries; most: " + "; ".join(f"`{q}` {_n(n)}" for q, n in top) + "."
            )
        crowded = sorted(audit["queries"], key=lambda item: -item[2])[:5]
        if crowded:
            lines.append(
                "Synthetic papers holding every word of a query, most: "
                + "; ".join(f"`{q}` {_n(count)}" for _, q, count in crowded)
                + "."
            )
        if r["missing"]:
            lines.append(f"Expected papers missing from the database: {len(r['missing'])} ({'; '.join(r['missing'][:5])}).")
        if r["build_warnings"]:
            lines.append(f"The build reported {r['build_warnings']} warnings (odd but loadable input).")
        lines += ["", "Errors of ours (answers other than 200): " + ("none." if not r["errors"] else "")]
        for q, status, body in r["errors"][:20]:
            lines.append(f"- `{q}`: {status} {body[:160]!r}")
    return "\n".join(lines) + "\n"


def query_tables(r: dict) -> list[str]:
    """What the queries of one size measured, for the report and for its section of benchmarks.md."""
    return [
        "",
        f"Load average over the last 5 minutes of queries: {r['load_average']:.1f} on {_cpus()} CPUs"
        + (" (above the CPU count: other work shared the machine, and every latency below is inflated)."
           if r["load_average"] > _cpus() else "."),
        "",
        *class_table(r),
        "",
        f"Typos (docs/search.md, section 6): {r['spelling'].summary()} Their queries are the rows typo and "
        "typo spelt right above.",
        "",
        "Ours in each mode of `search` (words is the default; meaning and both: see docs/search.md):",
        "",
        *modes_table(r),
    ]


def class_table(r: dict) -> list[str]:
    """One size's table: per class, R@5, MRR and latency of ours and of tantivy."""
    lines = [
        "| class | queries | ours R@5 | tantivy R@5 | ours MRR | tantivy MRR | ours p50 ms | ours p95 ms | tantivy p50 ms | tantivy p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in sorted(r["ours"], key=row_order):
        o, p = r["ours"][kind], r["peer"][kind]
        _, o5, omrr = o["scores"].summary
        _, p5, pmrr = p["scores"].summary
        n = len(o["scores"].reciprocal_ranks)
        name = f"**{kind}**" if kind in ("all", HELD_OUT_ALL) else kind
        lines.append(
            f"| {name} | {n} | {o5:.3f} | {p5:.3f} | {omrr:.3f} | {pmrr:.3f} | "
            f"{percentile(o['ms'], 0.5):.1f} | {percentile(o['ms'], 0.95):.1f} | "
            f"{percentile(p['ms'], 0.5):.2f} | {percentile(p['ms'], 0.95):.2f} |"
        )
    return lines


def modes_table(r: dict) -> list[str]:
    """One size's table: per class, R@5, MRR and p95 of ours in each mode of `search`."""
    modes = {"words": r["ours"], **r.get("modes", {})}
    lines = [
        "| class | " + " | ".join(f"{mode} R@5 | {mode} MRR | {mode} p95 ms" for mode in modes) + " |",
        "|---|" + "---|---|---|" * len(modes),
    ]
    for kind in sorted(r["ours"], key=row_order):
        cells = []
        for scores in modes.values():
            _, r5, mrr = scores[kind]["scores"].summary
            cells += [f"{r5:.3f}", f"{mrr:.3f}", f"{percentile(scores[kind]['ms'], 0.95):.1f}"]
        name = f"**{kind}**" if kind in ("all", HELD_OUT_ALL) else kind
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def benchmarks_section(results: list[dict], report: Path | None) -> str:
    """The part of docs/benchmarks.md this run owns: every size's class table, the rest in the full report."""
    where = f" ([{report.name}]({report.name}))" if report else ""
    lines = [
        "## Search against tantivy, the real papers hidden in a crowd",
        "",
        f"Written by `python -m bench.relevance.scale` (part of `make bench`){where}: the judged queries over the "
        "255 real papers hidden among synthetic ones (an honest crowd), ours over HTTP of one server process, "
        "tantivy 0.27 in-process over the same rows (`en_stem`, BM25, title boosted 10, words OR-ed).",
    ]
    for r in results:
        lines += [
            "",
            f"### {_n(r['papers'])} synthetic papers + the real ones",
            "",
            f"Build: ours {r['ours_build_seconds']:.0f} s (dumps → database, {r['ours_bytes'] / 1e6:.0f} MB), "
            f"tantivy {r['peer_build_seconds']:.0f} s (database rows → index, {r['peer_bytes'] / 1e6:.0f} MB).",
            *query_tables(r),
        ]
    return "\n".join(lines) + "\n"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relevance.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", default="100000", help="synthetic papers, or several sizes: 100000,1000000")
    parser.add_argument("--out", type=Path, help="write the markdown report here (default: print it)")
    parser.add_argument("--work", type=Path, help="keep the dumps, database and index in DIR/N, emptied first (default: a temporary folder, removed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--leaky", action="store_true", help="the plain generator's crowd, which copies the real papers' rare words")
    parser.add_argument("--warmups", type=int, default=WARMUPS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--per-query", action="store_true", help="also print each query's rank, ours and tantivy, to stderr")
    parser.add_argument("--benchmarks", type=Path, help="also write every size's class table into this report (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(part.replace("_", "")) for part in args.papers.split(",") if part.strip()]
    except ValueError:
        parser.error("--papers takes numbers, comma-separated")
    if not sizes or min(sizes) < 1:
        parser.error("--papers must be at least 1")
    if args.warmups < 0 or args.repeats < 1:
        parser.error("--warmups must be >= 0 and --repeats >= 1")
    # SIGTERM unwinds like Ctrl-C, so that the finally blocks stop the server and remove the files.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    try:
        results = run(sizes, args.work, seed=args.seed, honest=not args.leaky, warmups=args.warmups, repeats=args.repeats)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.per_query:
        for r in results:
            for kind, q, ours, peer in r["per_query"]:
                print(f"{r['papers']}\t{kind}\t{ours}\t{peer}\t{q}", file=sys.stderr)
    report = render(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        log(f"wrote {args.out}")
    if args.benchmarks:
        write_section(args.benchmarks, PEER_MARKER, benchmarks_section(results, args.out))
        log(f"wrote its section of {args.benchmarks}")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
