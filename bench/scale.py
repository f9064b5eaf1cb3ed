"""Scale benchmark: build time, memory, baselines, incremental loads, HTTP latency and load, per size.

Usage:
    .venv/bin/python -m bench.scale --sizes 10000,100000 [--one-dump] [--out docs/benchmarks.md] [--work /tmp/scale]
    make bench    # the same, for 10k, 100k and 1M with --one-dump, writing docs/benchmarks.md (and .png)
    .venv/bin/python -m bench.scale --sizes 10000 --abuse-seconds 30   # a longer abuse phase (0 skips it)

    from bench.scale import run, render
    results = run([10_000], out=Path("/tmp/b.md"))

For every size N, in one run:

1. generate N papers (bench.generate, seed 0) as N/1000 dumps; with --one-dump also as one dump;
2. ours: `papers-db build --db X --rebuild <folder>` (and from the single dump with --one-dump);
   and the same build without vectors (`build_without_vectors`), its time less the embedding's;
3. off-the-shelf: the parsed papers {id, title, abstract} written as newline-delimited JSON
   (with loader.parser; timed, it stands in for parsing), `sqlite-utils insert --nl --pk id
   --replace`, `sqlite-utils enable-fts papers title abstract`;
4. floor (`floor_build`): two processes parse the dumps and make the extra indexed text
   (`search_terms`), one inserts them (one transaction of executemany, id by normalised title)
   and builds a stemmed external-content FTS5 index with one 'rebuild' and one 'optimize',
   timing each of its phases;
5. incremental: 100 new papers (seed N+1, a file name that sorts last) added with
   `papers-db build --db X <all dumps>` to the database built in 2, then 100 more (seed N+2):
   the first copies the database, the second starts from the generation the first replaced;
6. HTTP: the real server (`loader.site.serve_command`) on a free loopback port; p50/p95 of
   sequential requests for the `search` saved query by query class (words picked from the
   generated data, and the broadest a visitor can type: `a*`, `tr*`, a prefix on every word,
   stop words only), the table pages of papers, repos and appearances (HTML and JSON, default
   facets; each request new, and the same request repeated) and a row page; the
   Trends dashboard's page, each chart's data (no filter, and the years 2024-2025) and the whole
   dashboard as a browser fetches it (the page, then its charts' data over 6 connections); the
   Atom feeds (newest papers, a common and a rare word, the latest listing's new papers);
7. load: `wrk -t2 -c10 -d10s --timeout=30s --latency` (or a 10-thread Python client without wrk)
   against a mid-frequency search and the table page;
8. abuse: on the same server process, 4 client threads loop for --abuse-seconds (default 10)
   over the worst requests a visitor can send (ABUSE_REQUESTS: huge blobs, an endless recursive
   CTE, broad FTS5 prefixes) while a fifth times the mid-frequency search, one request at a time
   on fresh connections; then the server's peak RSS;
9. scale-out: with nginx installed, two server processes behind one nginx on loopback, the
   same load through nginx compared with one process direct.

Every measured command runs in a fresh `python -c` wrapper (the console script run in-process
with runpy, or a function of this module) that reports its own peak RSS, VmHWM from
/proc/self/status, so each figure is that command's alone. A command that starts processes
of its own (the build's parsers) is measured as a whole: the harness samples the summed
resident size of the wrapper and all its descendants every 50 ms, and reports the larger
of that peak and the wrapper's own. (Not getrusage: on Linux a child's
ru_maxrss starts from its parent's resident size, carried over fork and exec, so every small
command would report the harness's size; getrusage is only the fallback where /proc is missing.)
Times are wall-clock (time.perf_counter) around the whole subprocess, interpreter start
included, as a user running the command sees them. Before each, `os.sync()` writes back what
earlier steps left dirty (a million papers' dumps and databases are gigabytes), so that no
step pays for another's writes.
Subprocesses have timeouts and every server is stopped (by its pid) in `finally` blocks.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, unquote

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
MARK = "@@scale-result@@"
TARGET = 10_000_000  # the size the extrapolation aims at
PAPERS_PER_DUMP = 1000
EXTRA_PAPERS = 100
WARMUPS = 3
SAMPLE = 20_000  # papers read to pick the query words
LOAD_THREADS, LOAD_CONNECTIONS = 2, 10
WRK_TIMEOUT = 30  # seconds
# The table pages with their default facets, HTML and JSON: each asked anew every time (first), and
# the same request again (repeated: plugins/page_cache.py answers it from memory).
FIRST, REPEATED = "first", "repeated"
TABLE_PAGES = [
    (f"table {table} {kind}, {when}", f"/papers/{table}{suffix}", "", "")
    for table in ("papers", "repos", "appearances")
    for kind, suffix in (("HTML", ""), ("JSON", ".json?_size=10"))
    for when in (FIRST, REPEATED)
]
# Searches typed as they are, not picked from the data: the broadest a visitor can ask for.
FIXED_SEARCHES = [
    ("one-letter prefix", "a*", "every word that starts with a"),
    ("two-letter prefix", "tr*", "every word that starts with tr"),
    ("stop words only", "the of and", "nothing but stop words"),
]
# The abuse phase: the worst requests a visitor can send, looped over by ABUSE_CLIENTS threads
# while one more client times the load search.
ABUSE_CLIENTS = 4
ABUSE_TIMEOUT = 30.0  # seconds allowed to each request of the phase
ABUSE_SEARCH_P95_MS = 200  # targets under abuse
ABUSE_SERVER_RSS_MB = 500
_ADHOC = "/papers.json?sql="
ABUSE_REQUESTS = [
    ("a 300 MB randomblob", _ADHOC + quote("select length(hex(randomblob(300000000)))")),
    ("an endless recursive CTE", _ADHOC + quote("with recursive c(x) as (select 1 union all select x+1 from c) select count(*) from c")),
    ("1,000 rows of 1 MB blobs", _ADHOC + quote("select randomblob(999999) from papers limit 1000")),
    (
        "FTS5 OR of 7 one-letter prefixes",
        _ADHOC + quote("select count(*) from papers_fts where papers_fts match 'a* OR b* OR c* OR d* OR e* OR s* OR t*'"),
    ),
    ("title_score of an 800,000-character text", _ADHOC + quote("select title_score('a b c d e f g h i j k l m n o p', hex(zeroblob(400000)))")),
    ("search of 26 one-letter prefixes", "/papers/search.json?q=" + quote(" ".join(f"{chr(c)}*" for c in range(ord("a"), ord("z") + 1)))),
]

Log = Callable[[str], None]

# Runs one measured step in a fresh interpreter and prints its own peak RSS after a marker.
WRAPPER = f"""
import importlib, json, resource, runpy, sys
spec = json.loads(sys.argv[1])
code, result = 0, None
if spec["kind"] == "script":
    sys.argv = [spec["path"], *spec["args"]]
    try:
        runpy.run_path(spec["path"], run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
else:
    module, name = spec["call"].split(":")
    result = getattr(importlib.import_module(module), name)(*spec["args"])
sys.stdout.flush()
# VmHWM belongs to this process's own address space. ru_maxrss would not do: Linux carries the
# parent's resident size over fork and exec into it, so a small command reports the harness's size.
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("\\n{MARK}" + json.dumps({{"code": code, "maxrss_kb": peak, "result": result}}))
"""


class BenchError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- measured subprocesses


def measure(spec: dict, *, cwd: Path, timeout: float) -> dict:
    """Run `spec` in the wrapper: {"seconds", "rss_mb", "result", "stdout"}; raise on failure or timeout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    os.sync()  # the writes of earlier steps, which would otherwise be flushed during this one
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", WRAPPER, json.dumps(spec)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as wrapper, _TreePeak(wrapper.pid) as tree:
        try:
            stdout, stderr = wrapper.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            wrapper.kill()
            raise BenchError(f"timed out after {timeout:.0f}s: {_describe(spec)}") from None
    seconds = time.perf_counter() - started
    out, _, tail = stdout.rpartition(MARK)
    if wrapper.returncode != 0 or not _:
        raise BenchError(f"failed ({wrapper.returncode}): {_describe(spec)}\n{stderr[-2000:]}")
    report = json.loads(tail)
    if report["code"] != 0:
        raise BenchError(f"exit {report['code']}: {_describe(spec)}\n{stderr[-2000:]}{out[-1000:]}")
    rss_kb = max(report["maxrss_kb"], tree.peak_kb)
    return {"seconds": seconds, "rss_mb": rss_kb / 1024, "result": report["result"], "stdout": out.strip()}


class _TreePeak:
    """Samples the summed VmRSS of a process and its descendants until the `with` block ends."""

    def __init__(self, pid: int, every: float = 0.05):
        self.pid, self.every, self.peak_kb = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "_TreePeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(pid) for pid in _tree(self.pid)))


def _tree(pid: int) -> list[int]:
    """The process and its descendants, from /proc/PID/task/*/children (Linux)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:
                pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def script(name: str, *args: object) -> dict:
    return {"kind": "script", "path": str(BIN / name), "args": [str(a) for a in args]}


def call(function: str, *args: object) -> dict:
    return {"kind": "call", "call": f"bench.scale:{function}", "args": [str(a) for a in args]}


def _describe(spec: dict) -> str:
    return " ".join([Path(spec["path"]).name if spec["kind"] == "script" else spec["call"], *spec["args"]])


def add_dump(db: Path, dumps: list[Path], target: Path, seed: int, folder: Path, timeout: float) -> dict:
    """Generate EXTRA_PAPERS papers as `target`, then time `papers-db build` of `dumps` into `db`."""
    from bench.generate import generate
    from loader.parser import parse_file
    from loader.records import paper_id

    (generated,) = generate(EXTRA_PAPERS, target.parent / f"seed{seed}", dumps=None, seed=seed)
    added = generated.rename(target)
    generated.parent.rmdir()
    ids = [paper_id(entry.title) for entry in parse_file(str(added))[1]]
    collisions = _scalar(db, f"select count(*) from papers where id in ({','.join('?' * len(ids))})", ids)
    before = _scalar(db, "select count(*) from papers")
    step = measure(script("papers-db", "build", "--db", db, *dumps), cwd=folder, timeout=timeout)
    return {
        **_step(step),
        "db_mb": _mb(db),
        "summary": step["stdout"],
        "collisions": collisions,
        "new_papers": _scalar(db, "select count(*) from papers") - before,
    }


# ----------------------------------------------------------------------------- baselines (run in the wrapper)


def parsed_papers(folder: str) -> Iterator[tuple[int, str, str]]:
    """(id, title, abstract) of every entry of every dump, repeats included, in file order."""
    for path in sorted(Path(folder).rglob("*.txt")):
        yield from papers_of_dump(str(path))


def papers_of_dump(path: str) -> Iterator[tuple[int, str, str]]:
    """(id, title, abstract) of every entry of one dump, with the real parser; the id is the build's,
    a hash of the normalised title."""
    from loader.parser import decode_lines, parse_dump
    from loader.records import paper_id

    with open(path, "rb") as stream:
        _, entries = parse_dump(decode_lines(stream, path), path)
        for entry in entries:
            yield paper_id(entry.title), entry.title, entry.abstract


def write_jsonl(folder: str, target: str) -> int:
    """The off-the-shelf route's parsing: the dumps as newline-delimited JSON for `sqlite-utils insert`."""
    count = 0
    with open(target, "w", encoding="utf-8") as stream:
        for pid, title, abstract in parsed_papers(folder):
            stream.write(json.dumps({"id": pid, "title": title, "abstract": abstract}, ensure_ascii=False) + "\n")
            count += 1
    return count


def floor_build(folder: str, target: str) -> dict:
    """The floor: the fastest simple loader of the same papers and indexed text, on both cores.

    Two processes parse the dumps (the real parser) and make each paper's extra indexed text
    (`loader.text.search_terms`, what the build indexes besides title and abstract); this one
    inserts them as they come, the last listing of a paper winning (its id is a hash of the
    normalised title), in one transaction of executemany, then builds a stemmed
    external-content FTS5 index with the build's settings: one 'rebuild', one 'optimize'.
    Returns the papers and the seconds of each phase."""
    from multiprocessing import get_context

    from loader.schema import FTS_TOKENIZE, PAGE_SIZE, fts_rebuild_options

    Path(target).unlink(missing_ok=True)
    conn = sqlite3.connect(target, isolation_level=None)
    for pragma in (f"page_size = {PAGE_SIZE}", "journal_mode = off", "synchronous = off", "cache_size = -131072"):
        conn.execute(f"pragma {pragma}")
    conn.execute("create table papers (id integer primary key, title text, abstract text, search_terms text)")
    phases, started = {}, time.perf_counter()
    with get_context("fork").Pool(2) as parsers:
        conn.execute("begin")
        for rows in parsers.imap(_floor_rows, sorted(map(str, Path(folder).rglob("*.txt")))):
            conn.executemany("insert or replace into papers values (?, ?, ?, ?)", rows)
        conn.execute("commit")
    phases["parse + insert (2 processes)"] = time.perf_counter() - started
    conn.execute(
        "create virtual table fts using fts5(title, abstract, search_terms, content=papers, content_rowid=id,"
        f" tokenize='{FTS_TOKENIZE}')"
    )
    for option, value in fts_rebuild_options():
        conn.execute("insert into fts(fts, rank) values (?, ?)", (option, value))
    for command in ("rebuild", "optimize"):
        started = time.perf_counter()
        conn.execute(f"insert into fts(fts) values('{command}')")
        phases[f"FTS5 {command}"] = time.perf_counter() - started
    count = conn.execute("select count(*) from papers").fetchone()[0]
    conn.close()
    return {"papers": count, "phases": phases}


def build_without_vectors(folder: str, target: str) -> dict:
    """Ours less its embedding: the same build from scratch, `vectors=False` (everything but the
    vectors written, as `tests/test_vectors.py` checks), so that the build is compared with the
    floor as the floor's work, and what embedding adds is measured rather than estimated."""
    from loader.build import build

    summary = build(Path(target), [Path(folder)], rebuild=True, vectors=False)
    return {"papers": summary.papers}


def _floor_rows(path: str) -> list[tuple[int, str, str, str]]:
    """One dump's papers for the floor: (id, title, abstract, search terms), in file order."""
    from loader.text import search_terms

    return [(pid, title, abstract, search_terms(title, abstract)) for pid, title, abstract in papers_of_dump(path)]


# ----------------------------------------------------------------------------- query words from the data


def pick_queries(db: Path) -> dict[str, Any]:
    """Search queries by class, chosen from the generated text, with their document frequencies."""
    from loader.text import STOPWORDS, WORD

    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        total = conn.execute("select count(*) from papers").fetchone()[0]
        rows = conn.execute("select id, abstract from papers order by id limit ?", [SAMPLE]).fetchall()
        df: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        texts = []
        for _, abstract in rows:
            words = [w.lower() for w in WORD.findall(abstract)]
            texts.append(words)
            df.update(set(words))
            pairs.update(set(zip(words, words[1:])))
        n = len(rows)

        def usable(word: str) -> bool:
            return word.isalpha() and word.isascii() and len(word) >= 4 and word not in STOPWORDS

        words = sorted((w for w in df if usable(w)), key=lambda w: (-df[w], w))

        def nearest(share: float, candidates=None) -> str:
            return min(candidates or words, key=lambda w: (abs(df[w] / n - share), w))

        def matches(fts_query: str) -> int:
            return conn.execute("select count(*) from papers_fts where papers_fts match ?", [fts_query]).fetchone()[0]

        common = nearest(0.5)
        mid = nearest(0.1)
        rare = None
        for word in sorted((w for w in words if df[w] <= 5), key=lambda w: (-df[w], w))[:300]:
            if 2 <= matches(f'"{word}"') <= 8:
                rare = word
                break
        rare = rare or min(words, key=lambda w: (df[w], w))
        phrase_pairs = [p for p in pairs if usable(p[0]) and usable(p[1]) and p[0] != p[1]]
        phrase = min(phrase_pairs, key=lambda p: (abs(pairs[p] / n - 0.02), p))
        # The hardest kind of phrase: both words in most abstracts, in other forms too ("trained
        # model" for "training models"), so most stem matches fail the word-for-word check.
        hard = max((p for p in phrase_pairs if pairs[p] >= n * 0.002), key=lambda p: (min(df[p[0]], df[p[1]]), p))
        # A common word filtered to the earliest year with a thousandth of the papers (at least 10):
        # the filter rejects almost every match.
        year, in_year = conn.execute(
            "select published_year, count(*) from papers where published_year is not null"
            " group by published_year having count(*) >= max(10, ? / 1000) order by published_year limit 1",
            [total],
        ).fetchone()
        long_words = [w for w in words if len(w) >= 8] or words
        stem = nearest(0.05, long_words)[:5]
        multi = None
        for words_of_one in texts:
            chosen = []
            for word in words_of_one:
                if usable(word) and 0.02 <= df[word] / n <= 0.3 and word not in chosen:
                    chosen.append(word)
                if len(chosen) == 3:
                    break
            if len(chosen) == 3:
                multi = chosen
                break
        multi = multi or [words[10], words[20], words[30]]
        # Every word a prefix: the first three letters of the commonest words, three different
        # prefixes (the commonest of each), so each stands for a broad set of words.
        every: dict[str, str] = {}
        for word in words:
            every.setdefault(word[:3], word)
            if len(every) == 3:
                break
        every_q = " ".join(f"{prefix}*" for prefix in every)
        every_note = "first letters of " + ", ".join(f"{word} (df {df[word] / n:.0%})" for word in every.values())
        return {
            "papers": total,
            "sample": n,
            "row_id": rows[0][0],
            "filtered": (common, year, f"df {df[common] / n:.0%}, year_from = year_to = {year} ({in_year} papers)"),
            "queries": {
                "common word": (common, f"df {df[common] / n:.0%}"),
                "mid word (load)": (mid, f"df {df[mid] / n:.0%}"),
                "rare word": (rare, f"{matches(chr(34) + rare + chr(34))} papers"),
                "phrase": (f'"{phrase[0]} {phrase[1]}"', f"together in {pairs[phrase] / n:.1%}"),
                "phrase of common words": (
                    f'"{hard[0]} {hard[1]}"',
                    f"df {df[hard[0]] / n:.0%} and {df[hard[1]] / n:.0%}, together in {pairs[hard] / n:.1%}",
                ),
                "prefix": (f"{stem}*", f"{matches(stem + '*')} papers"),
                "multi-word": (" ".join(multi), "3 words of one abstract"),
                "prefix on every word": (every_q, every_note),
            },
        }
    finally:
        conn.close()


# ----------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def process(command: list[str], log_path: Path, ready: Callable[[], bool], *, wait: float = 120.0) -> Iterator[subprocess.Popen]:
    """Start a server, wait until `ready()`, and stop it (by its pid) however the block ends."""
    log = open(log_path, "ab")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=log_path.parent)
    try:
        deadline = time.monotonic() + wait
        while not ready():
            if proc.poll() is not None:
                raise BenchError(f"{Path(command[0]).name} exited with {proc.returncode}: {_tail(log_path)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{Path(command[0]).name} did not answer within {wait:.0f}s: {_tail(log_path)}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-1500:]
    except OSError:
        return ""


def answers(port: int, path: str = "/-/versions.json") -> Callable[[], bool]:
    def check() -> bool:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    return check


def datasette(db: Path, port: int, logs: Path, name: str):
    from loader.site import serve_command

    return process(serve_command(db, HOST, port, reload=False), logs / f"{name}.log", answers(port))


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a running process (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and every process under it (Linux)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def load_with_cores(servers: list[int], port: int, path: str, seconds: float, first: bool = False) -> dict:
    """`_load_or_error`, with the cores the servers used meanwhile: on a machine of two cores, one
    process that uses more than one already bounds what two can gain."""
    before, started = sum(map(cpu_seconds, servers)), time.perf_counter()
    measured = _load_or_error(port, path, seconds, first)
    measured["server_cores"] = (sum(map(cpu_seconds, servers)) - before) / (time.perf_counter() - started)
    return measured


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream datasette {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://datasette;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def nginx(upstreams: list[int], port: int, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # workers may run as another user and need to reach their temp folders
    servers = "\n".join(f"        server {HOST}:{p};" for p in upstreams)
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=folder, servers=servers, host=HOST, port=port))
    command = [shutil.which("nginx") or "nginx", "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    return process(command, folder / "nginx.log", answers(port), wait=30)


# ----------------------------------------------------------------------------- HTTP measurements


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def asked_anew(path: str, tag: object) -> str:
    """`path` with `_first=<tag>`, a parameter the table pages ignore: a request not asked before."""
    return f"{path}{'&' if '?' in path else '?'}_first={tag}"


def latency(port: int, path: str, count: int, *, timeout: float = 30.0, first: bool = False) -> dict:
    """Sequential requests on one keep-alive connection: p50/p95/p99/max in ms, status codes, last body.

    With `first`, every request is one the server has not answered before (`asked_anew`: no
    answer kept by plugins/page_cache.py)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    times: list[float] = []
    statuses: Counter[str] = Counter()
    body, headers = b"", {}
    for index in range(WARMUPS + count):
        started = time.perf_counter()
        try:
            conn.request("GET", asked_anew(path, index) if first else path)
            response = conn.getresponse()
            data = response.read()
            status = str(response.status)
            if response.status == 200:
                body, headers = data, dict(response.getheaders())
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        elapsed = time.perf_counter() - started
        if index >= WARMUPS:
            times.append(elapsed * 1000)
            statuses[status] += 1
    conn.close()
    return {**timings(times, statuses, count), "_body": body, "_headers": headers}


def timings(times: list[float], statuses: Counter[str], count: int) -> dict:
    """Percentiles of the timed requests (ms) and their statuses: what every latency case reports."""
    return {
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
        "max_ms": max(times),
        "requests": count,
        "statuses": dict(statuses),
        "non_200": sum(n for s, n in statuses.items() if s != "200"),
    }


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    if not rps or not total:
        raise BenchError(f"unexpected wrk output:\n{output}")
    distribution = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", output, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "tool": "wrk",
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "p50_ms": _ms(distribution["50"]) if "50" in distribution else None,
        "p99_ms": _ms(distribution["99"]) if "99" in distribution else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "timeouts": int(errors.group(4)) if errors else 0,
    }


# wrk's script for `first`: each request adds `_first=<thread>-<number>`, so none is one asked before.
WRK_EACH_REQUEST_NEW = """
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
local number = 0
local separator = wrk.path:find("?", 1, true) and "&" or "?"
function request() number = number + 1; return wrk.format(nil, wrk.path .. separator .. "_first=" .. id .. "-" .. number) end
"""


def load(port: int, path: str, seconds: float, connections: int = LOAD_CONNECTIONS, *, first: bool = False) -> dict:
    """Closed-loop load for `seconds` over `connections`: wrk when installed, else a threaded client.
    With `first`, every request is one the server has not answered before (see `latency`)."""
    url = f"http://{HOST}:{port}{path}"
    wrk = shutil.which("wrk")
    if not wrk:
        return python_load(port, path, seconds, connections, first=first)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_EACH_REQUEST_NEW)
        script.flush()
        # --timeout: wrk leaves responses slower than its timeout (default 2 s) out of the latency
        # distribution, which would cap p99 at 2 s; they are counted as timeouts either way.
        command = [
            wrk, f"-t{LOAD_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={WRK_TIMEOUT}s", "--latency", *(["-s", script.name] if first else []), url,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT + 60, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    return parse_wrk(done.stdout)


def python_load(port: int, path: str, seconds: float, threads: int = LOAD_CONNECTIONS, *, first: bool = False) -> dict:
    """The fallback load generator: `threads` keep-alive clients for `seconds`, bounded."""
    deadline = time.perf_counter() + seconds
    times: list[list[float]] = [[] for _ in range(threads)]
    bad = [0] * threads
    errors = [0] * threads

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", asked_anew(path, f"{slot}-{len(times[slot]) + errors[slot]}") if first else path)
                response = conn.getresponse()
                response.read()
                bad[slot] += not 200 <= response.status < 400
                times[slot].append((time.perf_counter() - started) * 1000)
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 15)
    elapsed = time.perf_counter() - started
    flat = [t for ts in times for t in ts]
    return {
        "tool": f"python ({threads} threads)",
        "rps": len(flat) / elapsed,
        "requests": len(flat),
        "p50_ms": percentile(flat, 0.5) if flat else None,
        "p99_ms": percentile(flat, 0.99) if flat else None,
        "non_2xx": sum(bad),
        "socket_errors": sum(errors),
        "timeouts": 0,
    }


def _timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[str, float, bool, str]:
    """One GET on `conn`: (status, or the error's name; milliseconds; whether an answer came; the
    start of the body, or the error, when the status is not 200)."""
    started = time.perf_counter()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
        status, answered = str(response.status), True
        detail = "" if response.status == 200 else data[:300].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        status, answered, detail = type(error).__name__, False, str(error)[:300]
    return status, (time.perf_counter() - started) * 1000, answered, detail


def _spread(times: list[float]) -> dict:
    if not times:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
        "max_ms": max(times),
    }


def abuse(port: int, search_path: str, seconds: float, *, clients: int = ABUSE_CLIENTS, timeout: float = ABUSE_TIMEOUT) -> dict:
    """`clients` threads loop over ABUSE_REQUESTS for `seconds` while one more client times `search_path`.

    Each abuser goes round the list without pause, on one keep-alive connection (a new one after
    an error), from its own starting point: spread over the list, the first and the last among
    them, so that even a short phase sends the last one (the only one that is no ad hoc SQL, so
    the only one that does not take turns on the server). The search client sends one request at
    a time, each on a fresh connection (its connect timed too). Every request has `timeout`; the
    loops stop by themselves at the deadline, and every thread is joined (one still running after
    the deadline and its timeout is counted in `stuck_threads`).
    """
    from plugins.search_cut_short import MESSAGE as CUT_SHORT  # here: the measured steps never load Datasette

    lock = threading.Lock()
    abuse_times: dict[str, list[float]] = {label: [] for label, _ in ABUSE_REQUESTS}
    abuse_statuses: dict[str, Counter[str]] = {label: Counter() for label, _ in ABUSE_REQUESTS}
    search_times: list[float] = []
    search_statuses: Counter[str] = Counter()
    cut_short = 0  # searches answered with the time limit's sentence (plugins/search_cut_short.py)
    # The first answer of each kind that is not a 200, per request: what a 400 or a 500 said.
    samples: dict[str, dict[str, str]] = {label: {} for label, _ in [*ABUSE_REQUESTS, ("search", search_path)]}
    deadline = time.perf_counter() + seconds

    def abuser(slot: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        index = round(slot * (len(ABUSE_REQUESTS) - 1) / max(1, clients - 1))
        try:
            while time.perf_counter() < deadline:
                label, path = ABUSE_REQUESTS[index % len(ABUSE_REQUESTS)]
                index += 1
                status, ms, answered, detail = _timed_get(conn, path)
                with lock:
                    abuse_statuses[label][status] += 1
                    abuse_times[label].append(ms)
                    if status != "200":
                        samples[label].setdefault(status, detail)
                if not answered:
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        finally:
            conn.close()

    def searcher() -> None:
        nonlocal cut_short
        while time.perf_counter() < deadline:
            conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
            try:
                status, ms, _, detail = _timed_get(conn, search_path)
            finally:
                conn.close()
            with lock:
                search_statuses[status] += 1
                search_times.append(ms)
                if status != "200":
                    samples["search"].setdefault(status, detail)
                if status == "400" and CUT_SHORT in detail:
                    cut_short += 1

    pool = [threading.Thread(target=abuser, args=(slot,), daemon=True, name=f"abuser-{slot}") for slot in range(clients)]
    pool.append(threading.Thread(target=searcher, daemon=True, name="searcher"))
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(max(0.0, deadline - time.perf_counter()) + timeout + 10)
    elapsed = time.perf_counter() - started
    with lock:
        searched = list(search_times)
        search = {
            "path": search_path,
            "requests": len(searched),
            **_spread(searched),
            "statuses": dict(search_statuses),
            "non_200": sum(n for status, n in search_statuses.items() if status != "200"),
            "cut_short": cut_short,
            "samples": dict(samples["search"]),
        }
        per_request = {
            label: {
                "path": path,
                "requests": len(abuse_times[label]),
                **_spread(abuse_times[label]),
                "statuses": dict(abuse_statuses[label]),
                "samples": dict(samples[label]),
            }
            for label, path in ABUSE_REQUESTS
        }
    total: Counter[str] = Counter()
    for label in per_request:
        total.update(per_request[label]["statuses"])
    return {
        "seconds": seconds,
        "elapsed": elapsed,
        "clients": clients,
        "search": search,
        "abusers": {"requests": sum(total.values()), "statuses": dict(sorted(total.items())), "per_request": per_request},
        "stuck_threads": sum(thread.is_alive() for thread in pool),
    }


# ----------------------------------------------------------------------------- one size


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("*.txt")) / 1e6


class Phases:
    """Wall time of each phase of the harness, for the report."""

    def __init__(self, log: Log):
        self.seconds: dict[str, float] = {}
        self.log = log

    @contextmanager
    def __call__(self, name: str):
        self.log(f"  {name} ...")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started
            self.log(f"  {name}: {self.seconds[name]:.1f}s")


YEAR_RANGE = {"year_from": "2024", "year_to": "2025"}  # two busy years of the generated dates
BROWSER_CONNECTIONS = 6  # what a browser opens to one host at most
WHOLE_DASHBOARD = f"dashboard: page, then its charts' data over {BROWSER_CONNECTIONS} connections"


def dashboard_cases() -> list[tuple[str, str, str, str]]:
    """The Trends dashboard's page and each chart's data, as its JavaScript fetches them (loader/dashboard.py)."""
    from loader.dashboard import PATH, chart_data_paths
    from loader.site import METADATA

    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    years = ", ".join(f"{name}={value}" for name, value in YEAR_RANGE.items())
    return [
        ("dashboard page (HTML)", PATH, "", ""),
        *((f"dashboard chart: {slug}", path, "no filter", "") for slug, path in chart_data_paths(metadata).items()),
        *((f"dashboard chart: {slug}, years", path, years, "") for slug, path in chart_data_paths(metadata, YEAR_RANGE).items()),
    ]


def dashboard_latency(port: int, count: int, *, timeout: float = 30.0) -> dict:
    """The dashboard as a visitor's browser loads it: the page, then every chart's data at once over
    `BROWSER_CONNECTIONS` keep-alive connections; milliseconds from the first request to the last answer."""
    page, *charts = [path for name, path, _, _ in dashboard_cases() if not name.endswith(", years")]
    connections = [http.client.HTTPConnection(HOST, port, timeout=timeout) for _ in range(BROWSER_CONNECTIONS)]
    times: list[float] = []
    statuses: Counter[str] = Counter()
    try:
        for index in range(WARMUPS + count):
            started = time.perf_counter()
            answers = [[_timed_get(connections[0], page)]] + [[] for _ in range(BROWSER_CONNECTIONS)]

            def fetch_share(k: int) -> None:
                answers[k + 1] = [_timed_get(connections[k], path) for path in charts[k::BROWSER_CONNECTIONS]]

            threads = [threading.Thread(target=fetch_share, args=(k,)) for k in range(BROWSER_CONNECTIONS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if index >= WARMUPS:
                times.append((time.perf_counter() - started) * 1000)
                # the first status other than 200, if any, stands for the whole load
                statuses[next((status for share in answers for status, *_ in share if status != "200"), "200")] += 1
    finally:
        for conn in connections:
            conn.close()
    return {
        **timings(times, statuses, count),
        "path": f"{page} and {len(charts)} charts",
        "q": "",
        "note": f"{len(charts)} charts' data, no filter",
    }


def run_size(
    n: int,
    work: Path,
    result: dict,
    *,
    one_dump: bool,
    requests: int,
    load_seconds: float,
    abuse_seconds: float = 10.0,
    timeout: float,
    log: Log,
) -> dict:
    from bench.generate import generate

    folder = work / f"n{n}"
    if folder.exists():
        shutil.rmtree(folder)
    many, single, extra, logs = folder / "dumps", folder / "one-dump", folder / "extra", folder / "logs"
    for path in (many, extra, logs):
        path.mkdir(parents=True)
    phase = Phases(log)
    steps: dict[str, dict] = {}
    result.update(papers=n, dumps=max(1, n // PAPERS_PER_DUMP), phase_seconds=phase.seconds, steps=steps)

    with phase("generate"):
        started = time.perf_counter()
        generate(n, many, dumps=result["dumps"], seed=0)
        steps["generate"] = {"seconds": time.perf_counter() - started, "data_mb": _folder_mb(many)}
        if one_dump:
            started = time.perf_counter()
            generate(n, single, dumps=None, seed=0)
            steps["generate_one_dump"] = {"seconds": time.perf_counter() - started, "data_mb": _folder_mb(single)}

    db = folder / "papers.db"
    with phase("ours: papers-db build"):
        step = measure(script("papers-db", "build", "--db", db, "--rebuild", many), cwd=folder, timeout=timeout)
        steps["ours"] = {**_step(step), "db_mb": _mb(db), "summary": step["stdout"]}
        if one_dump:
            db_one = folder / "one-dump.db"
            step = measure(script("papers-db", "build", "--db", db_one, "--rebuild", single), cwd=folder, timeout=timeout)
            steps["ours_one_dump"] = {**_step(step), "db_mb": _mb(db_one), "summary": step["stdout"]}
            db_one.unlink()
    result["entries"] = _scalar(db, "select count(*) from appearances")
    result["papers_in_db"] = _scalar(db, "select count(*) from papers")

    with phase("off-the-shelf: sqlite-utils"):
        jsonl, ots_db = folder / "papers.jsonl", folder / "sqlite-utils.db"
        parse = measure(call("write_jsonl", many, jsonl), cwd=folder, timeout=timeout)
        insert = measure(
            script("sqlite-utils", "insert", ots_db, "papers", jsonl, "--nl", "--pk", "id", "--replace"),
            cwd=folder,
            timeout=timeout,
        )
        fts = measure(script("sqlite-utils", "enable-fts", ots_db, "papers", "title", "abstract"), cwd=folder, timeout=timeout)
        steps["ots_parse"] = {**_step(parse), "records": parse["result"], "jsonl_mb": _mb(jsonl)}
        steps["ots_insert"] = _step(insert)
        steps["ots_fts"] = _step(fts)
        steps["ots"] = {
            "seconds": parse["seconds"] + insert["seconds"] + fts["seconds"],
            "rss_mb": max(parse["rss_mb"], insert["rss_mb"], fts["rss_mb"]),
            "db_mb": _mb(ots_db),
        }
        jsonl.unlink()
        ots_db.unlink()

    with phase("floor: sqlite3 + FTS5"):
        floor_db = folder / "floor.db"
        step = measure(call("floor_build", many, floor_db), cwd=folder, timeout=timeout)
        steps["floor"] = {**_step(step), "db_mb": _mb(floor_db), **step["result"]}
        floor_db.unlink()

    with phase("ours without vectors"):
        bare_db = folder / "without-vectors.db"
        step = measure(call("build_without_vectors", many, bare_db), cwd=folder, timeout=timeout)
        steps["ours_without_embedding"] = {**_step(step), "db_mb": _mb(bare_db), **step["result"]}
        bare_db.unlink()

    ours = steps["ours"]
    result["ratios"] = {
        "ours_over_floor": ours["seconds"] / steps["floor"]["seconds"],
        "ours_without_embedding_over_floor": steps["ours_without_embedding"]["seconds"] / steps["floor"]["seconds"],
        "ours_over_ots": ours["seconds"] / steps["ots"]["seconds"],
        "rss_ours_over_floor": ours["rss_mb"] / steps["floor"]["rss_mb"],
        "rss_ours_over_ots": ours["rss_mb"] / steps["ots"]["rss_mb"],
        "db_ours_over_floor": ours["db_mb"] / steps["floor"]["db_mb"],
    }

    with phase("incremental: +100 papers, twice"):
        # As `make build` runs it: every dump given. The first addition copies the database
        # (no earlier generation exists yet); the second brings that earlier one up to date.
        steps["incremental_first"] = add_dump(db, [many, extra], extra / "gen_zz_extra_1.txt", n + 1, folder, timeout)
        steps["incremental"] = add_dump(db, [many, extra], extra / "gen_zz_extra_2.txt", n + 2, folder, timeout)

    with phase("pick queries"):
        picked = pick_queries(db)
    result["queries"] = {k: {"q": q, "note": note} for k, (q, note) in picked["queries"].items()}

    http_cases = [
        (f"search: {kind}", f"/papers/search.json?q={quote(q)}&_shape=array", q, note)
        for kind, (q, note) in picked["queries"].items()
        if kind != "mid word (load)"
    ] + [
        (
            "search: common word, one year",
            f"/papers/search.json?q={quote(picked['filtered'][0])}&year_from={picked['filtered'][1]}"
            f"&year_to={picked['filtered'][1]}&_shape=array",
            picked["filtered"][0],
            picked["filtered"][2],
        ),
        *((f"search: {kind}", f"/papers/search.json?q={quote(q)}&_shape=array", q, note) for kind, q, note in FIXED_SEARCHES),
        *TABLE_PAGES,
        ("row page (HTML)", f"/papers/papers/{picked['row_id']}", "", ""),
        *dashboard_cases(),
        ("feed: newest papers", "/papers/new_papers.atom", "", ""),
        *(
            (f"feed: {kind}", f"/papers/new_papers.atom?q={quote(q)}", q, note)
            for kind, (q, note) in picked["queries"].items()
            if kind in ("common word", "rare word")
        ),
        ("feed: new in the latest listing", "/papers/new_in_latest.atom", "", ""),
    ]
    search_url = f"/papers/search.json?q={quote(picked['queries']['mid word (load)'][0])}&_shape=array"
    load_targets = [
        ("search (mid word)", search_url, False),
        ("table page", "/papers/papers", False),
        ("table page, each request new", "/papers/papers", True),
    ]
    result["http"], result["load"], result["scale_out"] = {}, {}, {}
    result["servers"] = []
    with datasette(db, free_port(), logs, "datasette") as server:
        port = int(server.args[server.args.index("--port") + 1])
        result["servers"].append(server.pid)
        with phase("http latency"):
            for name, path, q, note in http_cases:
                measured = latency(port, path, requests, first=name.endswith(FIRST))
                body = measured.pop("_body")
                measured.pop("_headers")
                measured.update(path=path, q=q, note=note)
                if path.startswith("/papers/search.json") and body:
                    rows = json.loads(body)
                    measured["results"] = len(rows)
                    # What the search says of a broad prefix (searched as its commonest words).
                    server_note = next((row["note"] for row in rows if isinstance(row, dict) and row.get("note")), None)
                    if server_note:
                        measured["server_note"] = server_note
                if path.startswith("/papers/papers.json") and body:
                    data = json.loads(body)
                    measured["facets_timed_out"] = data.get("facets_timed_out", [])
                    measured["facets"] = sorted(data.get("facet_results", {}))
                result["http"][name] = measured
                log(f"    {name}: p50 {measured['p50_ms']:.1f} ms, p95 {measured['p95_ms']:.1f} ms, {measured['statuses']}")
            result["http"][WHOLE_DASHBOARD] = measured = dashboard_latency(port, requests)
            log(f"    {WHOLE_DASHBOARD}: p50 {measured['p50_ms']:.1f} ms, p95 {measured['p95_ms']:.1f} ms, {measured['statuses']}")
        with phase("load: one process"):
            for name, path, first in load_targets:
                result["load"][name] = load_with_cores([server.pid], port, path, load_seconds, first)
                log(f"    {name}: {result['load'][name].get('rps', result['load'][name].get('error'))} req/s")
        result["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        if abuse_seconds > 0:
            with phase("abuse: one process"):
                result["abuse"] = abuse(port, search_url, abuse_seconds)
                result["abuse"]["server_peak_rss_mb"] = peak_rss_mb(server.pid)
                a = result["abuse"]
                log(
                    f"    search under abuse: {a['search']['requests']} requests, p95 {_f(a['search']['p95_ms'])} ms, "
                    f"{a['search']['statuses']}; abusers {a['abusers']['statuses']}; server peak {_f(a['server_peak_rss_mb'], 0)} MB"
                )
        else:
            result["abuse"] = {"skipped": "--abuse-seconds 0"}

    if shutil.which("nginx"):
        with phase("scale-out: nginx + 2 processes"):
            try:
                with ExitStack() as stack:
                    ports = [free_port(), free_port()]
                    while ports[0] == ports[1]:
                        ports[1] = free_port()
                    backends = []
                    for number, p in enumerate(ports):
                        started = stack.enter_context(datasette(db, p, logs, f"datasette-{number + 1}"))
                        backends.append(started.pid)
                    result["servers"] += backends
                    front = free_port()
                    proxy = stack.enter_context(nginx(ports, front, folder / "nginx"))
                    result["servers"].append(proxy.pid)
                    for name, path, first in load_targets:
                        through = load_with_cores(backends, front, path, load_seconds, first)
                        direct = result["load"][name].get("rps")
                        gain = through["rps"] / direct if direct and "rps" in through else None
                        result["scale_out"][name] = {**through, "gain": gain}
                        log(f"    nginx {name}: {through.get('rps', through.get('error'))} req/s")
            except BenchError as error:
                result["scale_out"] = {"error": str(error)}
                log(f"    scale-out failed: {error}")
    else:
        result["scale_out"] = {"skipped": "nginx is not installed"}
    return result


def _scalar(db: Path, sql: str, params: list | None = None):
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params or []).fetchone()[0]
    finally:
        conn.close()


def _load_or_error(port: int, path: str, seconds: float, first: bool = False) -> dict:
    try:
        return load(port, path, seconds, first=first)
    except (BenchError, subprocess.TimeoutExpired) as error:
        return {"error": str(error).splitlines()[0]}


def _step(measured: dict) -> dict:
    return {"seconds": measured["seconds"], "rss_mb": measured["rss_mb"]}


# ----------------------------------------------------------------------------- extrapolation


def fit(sizes: list[int], values: list[float], target: int = TARGET) -> dict:
    """Log-log (power law) and linear least-squares fits of value vs N, evaluated at `target`."""
    if len(sizes) == 1:
        return {"method": "proportional (one size)", "exponent": 1.0, "loglog": values[0] * target / sizes[0], "linear": values[0] * target / sizes[0]}
    xs, ys = [math.log(s) for s in sizes], [math.log(max(v, 1e-9)) for v in values]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    loglog = math.exp(my + slope * (math.log(target) - mx))
    lx, ly = statistics.fmean(sizes), statistics.fmean(values)
    lslope = sum((x - lx) * (y - ly) for x, y in zip(sizes, values)) / sum((x - lx) ** 2 for x in sizes)
    linear = ly + lslope * (target - lx)
    return {"method": f"fit over {len(sizes)} sizes", "exponent": slope, "loglog": loglog, "linear": linear}


def extrapolate(per_size: dict[int, dict]) -> dict:
    sizes = sorted(per_size)
    metrics = {
        "build_seconds": [per_size[n]["steps"]["ours"]["seconds"] for n in sizes],
        "floor_seconds": [per_size[n]["steps"]["floor"]["seconds"] for n in sizes],
        "ots_seconds": [per_size[n]["steps"]["ots"]["seconds"] for n in sizes],
        "db_mb": [per_size[n]["steps"]["ours"]["db_mb"] for n in sizes],
        "build_rss_mb": [per_size[n]["steps"]["ours"]["rss_mb"] for n in sizes],
    }
    return {name: fit(sizes, values) for name, values in metrics.items()}


# ----------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def render(results: dict) -> str:
    env = results["environment"]
    lines = [
        "# Scale benchmark",
        "",
        f"`python -m bench.scale {results['command']}`, {results['started']}: {env['cpus']} CPUs, "
        f"Python {env['python']}, SQLite {env['sqlite']}, Datasette {env['datasette']}, "
        f"load with {env['load_tool']}, scale-out with {env['nginx'] or 'nothing (nginx not installed)'}; "
        f"load average at the start {env['loadavg']}.",
        "",
        "Times are wall-clock seconds of the whole command (interpreter start included), each started",
        "after `os.sync()` so that none pays for the writes of an earlier step. Peak RSS is",
        "each command's high-water resident set (VmHWM of a fresh process), or, for a command that",
        "starts processes of its own (our build's two parsers), the peak of their sum sampled every",
        "50 ms, whichever is larger. The synthetic data",
        "comes from `bench.generate` (seed 0, one dump per 1,000 papers, about 20% of entries repeat",
        "an earlier paper). Off-the-shelf: the parsed papers written as JSON lines, `sqlite-utils insert",
        "--nl --pk id --replace`, `sqlite-utils enable-fts papers title abstract`. Floor (`floor_build`):",
        "two processes parse the dumps and make each paper's joined compounds (`search_terms`), one",
        "inserts them in one transaction of `executemany`, then a stemmed external-content FTS5 index",
        "over title, abstract and compounds (the build's tokenizer and merge settings), one `rebuild`",
        "and one `optimize`; its phases are in the notes. Off-the-shelf loads (id, title, abstract) only;",
        "the floor indexes the same text as ours but for the two filter tokens a paper (`py2024 hascode`);",
        "ours also writes links, repositories, appearances, capture years, derived columns, each",
        "paper's vector (search by meaning), summary tables and the",
        "word rarities related papers are chosen from (`--check`, which adds SQLite's and FTS5's",
        "integrity checks, is not used). Incremental: 100 new papers added with every dump given, as",
        "`make build` does, twice: the first addition copies the database, the next starts from the",
        "generation the first replaced (the standby, see README) and is the one the target is checked on.",
        "",
    ]
    for n, r in sorted(results["sizes"].items()):
        if "error" in r:
            done = _phases(r.get("phase_seconds", {}))
            lines += [f"## {n:,} papers", "", f"**Failed**: {r['error'].splitlines()[0]}", "", f"Phases run: {done}.", ""]
        else:
            lines += _render_size(n, r)
    sizes = sorted(n for n, r in results["sizes"].items() if "error" not in r)
    if not sizes:
        return "\n".join(lines)
    lines += [
        "## Summary",
        "",
        "| papers | ours s | off-the-shelf s | floor s | ours/floor | ours/off-the-shelf | db MB | ours RSS MB | incremental +100 s | worst search p95 ms | search req/s (1 process → nginx×2) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        r = results["sizes"][n]
        s = r["steps"]
        worst = max(v["p95_ms"] for k, v in r["http"].items() if k.startswith("search"))
        direct = r["load"].get("search (mid word)", {}).get("rps")
        scaled = r["scale_out"].get("search (mid word)")
        scaled = scaled.get("rps") if isinstance(scaled, dict) else None
        lines.append(
            f"| {n:,} | {_f(s['ours']['seconds'])} | {_f(s['ots']['seconds'])} | {_f(s['floor']['seconds'])} | "
            f"{_f(r['ratios']['ours_over_floor'])}× | {_f(r['ratios']['ours_over_ots'])}× | {_f(s['ours']['db_mb'])} | "
            f"{_f(s['ours']['rss_mb'], 0)} | {_f(s['incremental']['seconds'])} | {_f(worst)} | "
            f"{_f(direct)} → {_f(scaled)} |"
        )
    lines += _targets(sizes[-1], results["sizes"][sizes[-1]])
    ex = results["extrapolation"]
    build, db_mb = ex["build_seconds"], ex["db_mb"]
    lines += [
        "",
        "## 10M extrapolation",
        "",
        f"**10M extrapolation** ({build['method']}; {', '.join(f'{n:,}' for n in sizes)} papers measured): "
        f"build ≈ {_duration(build['loglog'])} (log-log, time ∝ N^{build['exponent']:.2f}; linear fit: "
        f"{_duration(max(build['linear'], 0))}), database ≈ {db_mb['linear'] / 1000:,.1f} GB (linear; log-log "
        f"{db_mb['loglog'] / 1000:,.1f} GB, N^{db_mb['exponent']:.2f}); floor ≈ {_duration(ex['floor_seconds']['loglog'])}, "
        f"off-the-shelf ≈ {_duration(ex['ots_seconds']['loglog'])}"
        + (
            f"; ours peak RSS ≈ {ex['build_rss_mb']['loglog'] / 1000:,.1f} GB (log-log, N^{ex['build_rss_mb']['exponent']:.2f})."
            if len(sizes) > 1
            else "."
        ),
        "",
    ]
    if len(sizes) == 1:
        lines += ["With one measured size the extrapolation is only proportional: it assumes linear growth.", ""]
    if results.get("plot"):
        lines += [f"![Build time and search p95 against size]({results['plot']})", ""]
    else:
        lines += [f"Plot: {results.get('plot_note', 'skipped')}.", ""]
    return "\n".join(lines)


def _targets(n: int, r: dict) -> list[str]:
    """The issue's targets (set for 1M papers), checked at the largest size measured."""
    s, http = r["steps"], r["http"]
    search_p95 = {k: v["p95_ms"] for k, v in http.items() if k.startswith("search")}
    first_p95 = max(v["p95_ms"] for k, v in http.items() if k.startswith("table") and k.endswith(FIRST))
    repeated_p95 = max(v["p95_ms"] for k, v in http.items() if k.startswith("table") and k.endswith(REPEATED))
    gains = {name: v.get("gain") for name, v in r["scale_out"].items() if isinstance(v, dict)}
    chart_p95 = max(v["p95_ms"] for k, v in http.items() if k.startswith("dashboard chart"))
    errors = sum(v.get("non_2xx", 0) or 0 for v in list(r["load"].values()) + list(r["scale_out"].values()) if isinstance(v, dict))
    errors += sum(v["non_200"] for v in http.values())
    peak_rss = max(s[key]["rss_mb"] for key in ("ours", "ours_one_dump") if key in s)
    checks = [
        ("build within 1.5× the floor", f"{r['ratios']['ours_over_floor']:.2f}×", r["ratios"]["ours_over_floor"] <= 1.5),
        (
            "build without embedding within 1.5× the floor",
            f"{r['ratios']['ours_without_embedding_over_floor']:.2f}×",
            r["ratios"]["ours_without_embedding_over_floor"] <= 1.5,
        ),
        ("build faster than off-the-shelf", f"{r['ratios']['ours_over_ots']:.2f}×", r["ratios"]["ours_over_ots"] < 1),
        ("peak memory under 500 MB, one dump or many", f"{peak_rss:.0f} MB", peak_rss < 500),
        ("incremental +100 papers under 2 s", f"{s['incremental']['seconds']:.1f} s", s["incremental"]["seconds"] < 2),
        ("search p95 under 50 ms, every class", f"worst {max(search_p95.values()):.0f} ms", max(search_p95.values()) < 50),
        ("table pages with default facets p95 under 200 ms (first request)", f"worst {first_p95:.0f} ms", first_p95 < 200),
        ("table pages with default facets p95 under 50 ms (repeated request)", f"worst {repeated_p95:.0f} ms", repeated_p95 < 50),
        (
            "nginx → 2 processes at least 2× one process (search and table page)",
            ", ".join(f"{name} {_f(gain, 2)}×{_cores(r, name)}" for name, gain in gains.items()) or "not run",
            bool(gains) and all(gain is not None and gain >= 2 for gain in gains.values()),
        ),
        ("every dashboard chart's data p95 under 300 ms", f"worst {chart_p95:.0f} ms", chart_p95 < 300),
        ("no request errors", f"{errors}", errors == 0),
    ]
    lines = [
        "",
        f"## Targets (set for 1,000,000 papers), at {n:,} papers",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in checks]
    return lines


def _render_size(n: int, r: dict) -> list[str]:
    s = r["steps"]
    lines = [
        f"## {n:,} papers",
        "",
        f"{r['dumps']:,} dump{'s' if r['dumps'] != 1 else ''}, {r['entries']:,} entries ({s['generate']['data_mb']:.1f} MB of text); "
        f"{r['papers_in_db']:,} papers in the database.",
        "",
        "| phase | seconds | peak RSS MB | database MB | notes |",
        "|---|---|---|---|---|",
        f"| generate ({r['dumps']:,} dump{'s' if r['dumps'] != 1 else ''}, in-process) | {_f(s['generate']['seconds'])} | | | {s['generate']['data_mb']:.1f} MB of dumps |",
    ]
    if "generate_one_dump" in s:
        lines.append(f"| generate (one dump) | {_f(s['generate_one_dump']['seconds'])} | | | {s['generate_one_dump']['data_mb']:.1f} MB |")
    lines.append(f"| **ours**: `papers-db build --rebuild` | **{_f(s['ours']['seconds'])}** | {_f(s['ours']['rss_mb'], 0)} | {_f(s['ours']['db_mb'])} | {s['ours']['summary']} |")
    if "ours_one_dump" in s:
        o = s["ours_one_dump"]
        lines.append(f"| ours, from the single dump | {_f(o['seconds'])} | {_f(o['rss_mb'], 0)} | {_f(o['db_mb'])} | {o['summary']} |")
    lines += [
        f"| off-the-shelf: parse → JSON lines | {_f(s['ots_parse']['seconds'])} | {_f(s['ots_parse']['rss_mb'], 0)} | | {s['ots_parse']['records']:,} records, {s['ots_parse']['jsonl_mb']:.1f} MB |",
        f"| off-the-shelf: `sqlite-utils insert` | {_f(s['ots_insert']['seconds'])} | {_f(s['ots_insert']['rss_mb'], 0)} | | |",
        f"| off-the-shelf: `sqlite-utils enable-fts` | {_f(s['ots_fts']['seconds'])} | {_f(s['ots_fts']['rss_mb'], 0)} | | |",
        f"| **off-the-shelf total** | **{_f(s['ots']['seconds'])}** | {_f(s['ots']['rss_mb'], 0)} | {_f(s['ots']['db_mb'])} | |",
        f"| **floor**: 2 parsers + sqlite3 + FTS5 rebuild | **{_f(s['floor']['seconds'])}** | {_f(s['floor']['rss_mb'], 0)} | "
        f"{_f(s['floor']['db_mb'])} | {s['floor']['papers']:,} papers; {_phases(s['floor'].get('phases', {}))} |",
        f"| ours without vectors (`build(..., vectors=False)`) | {_f(s['ours_without_embedding']['seconds'])} | "
        f"{_f(s['ours_without_embedding']['rss_mb'], 0)} | {_f(s['ours_without_embedding']['db_mb'])} | "
        f"{s['ours_without_embedding']['papers']:,} papers; the embedding adds "
        f"{_f(s['ours']['seconds'] - s['ours_without_embedding']['seconds'])} s to the build |",
        *(
            f"| incremental: +{EXTRA_PAPERS} papers, {label} | {_f(s[key]['seconds'])} | {_f(s[key]['rss_mb'], 0)} | {_f(s[key]['db_mb'])} | {s[key]['new_papers']} new papers, {s[key]['collisions']} id collisions |"
            for key, label in (("incremental_first", "first (copies the file)"), ("incremental", "next (standby brought up to date)"))
        ),
        "",
        f"Ratios: build time ours/floor **{_f(r['ratios']['ours_over_floor'])}×** (without embedding: "
        f"{_f(r['ratios']['ours_without_embedding_over_floor'])}×), ours/off-the-shelf "
        f"**{_f(r['ratios']['ours_over_ots'])}×**; peak RSS ours/floor {_f(r['ratios']['rss_ours_over_floor'])}×, "
        f"ours/off-the-shelf {_f(r['ratios']['rss_ours_over_ots'])}×; database size ours/floor "
        f"{_f(r['ratios']['db_ours_over_floor'])}×.",
        "",
        f"### Latency, {n:,} papers",
        "",
        f"One server process (`loader.site.serve_command`), sequential requests on one keep-alive "
        f"connection, {WARMUPS} warm-ups then the count shown. Server peak RSS after the load runs: "
        f"{_f(r.get('server_peak_rss_mb'), 0)} MB.",
        "",
        "| case | query | p50 ms | p95 ms | p99 ms | max ms | requests | non-200 | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, h in r["http"].items():
        notes = [h["note"]] if h.get("note") else []
        if "results" in h:
            notes.append(f"{h['results']} rows returned")
        if h.get("server_note"):
            notes.append(f"the search said: {h['server_note']}")
        if "facets_timed_out" in h:
            notes.append(f"facets timed out: {', '.join(h['facets_timed_out']) or 'none'}")
        if h["non_200"]:
            notes.append(f"statuses {h['statuses']}")
        q = f"`{h['q']}`" if h["q"] else f"`{h['path']}`"
        lines.append(
            f"| {name} | {q} | {_f(h['p50_ms'])} | {_f(h['p95_ms'])} | {_f(h.get('p99_ms'))} | {_f(h['max_ms'])} | {h['requests']} | {h['non_200']} | {'; '.join(notes)} |"
        )
    lines += [
        "",
        f"### Load, {n:,} papers",
        "",
        f"`wrk -t{LOAD_THREADS} -c{LOAD_CONNECTIONS} --timeout={WRK_TIMEOUT}s --latency` (or the Python fallback) "
        "on loopback; wrk, nginx and the servers share the same CPUs. The gain is nginx → 2 processes over "
        "1 process direct, same URL. Server cores: the CPU time the server processes used during the run, "
        "over its length (`cpu_seconds`): one process whose SQL threads already keep more than one core "
        "busy leaves two processes less than twice the CPU to gain from.",
        "",
        "| target | via | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors (timeouts) | server cores | gain |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, l in r["load"].items():
        if "error" in l:
            lines.append(f"| {name} | 1 process direct | | | | | | | | {l['error']} |")
            continue
        lines.append(
            f"| {name} | 1 process direct | {_f(l['rps'])} | {_f(l['p50_ms'])} | {_f(l['p99_ms'])} | {l['requests']:,} | {l['non_2xx']} | {l['socket_errors']} ({l['timeouts']}) | {_f(l.get('server_cores'), 2)} | |"
        )
    scale = r["scale_out"]
    if "error" in scale or "skipped" in scale:
        lines.append(f"| scale-out | nginx | | | | | | | | {scale.get('error') or scale.get('skipped')} |")
    else:
        for name, l in scale.items():
            if "error" in l:
                lines.append(f"| {name} | nginx → 2 processes | | | | | | | | {l['error']} |")
                continue
            lines.append(
                f"| {name} | nginx → 2 processes | {_f(l['rps'])} | {_f(l['p50_ms'])} | {_f(l['p99_ms'])} | {l['requests']:,} | {l['non_2xx']} | {l['socket_errors']} ({l['timeouts']}) | {_f(l.get('server_cores'), 2)} | {_f(l['gain'], 2)}× |"
            )
    lines += _render_abuse(n, r.get("abuse"))
    lines += [
        "",
        "Harness phases: " + _phases(r["phase_seconds"]) + ".",
        "",
    ]
    return lines


def _cores(r: dict, name: str) -> str:
    """The cores one process and the two behind nginx used for a load target, when measured."""
    one, two = r["load"].get(name, {}).get("server_cores"), r["scale_out"].get(name, {}).get("server_cores")
    return f" (cores used: one process {one:.2f}, two {two:.2f})" if one and two else ""


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())


def _statuses(statuses: dict) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items())) or "–"


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit].replace("`", "'")


def _render_abuse(n: int, a: dict | None) -> list[str]:
    if not a:
        return []
    lines = ["", f"### Under abuse, {n:,} papers", ""]
    if "skipped" in a:
        return lines + [f"Skipped: {a['skipped']}."]
    search = a["search"]
    lines += [
        f"For {a['seconds']:g} s, on the same server process after the load runs, {a['clients']} clients loop without "
        "pause (one keep-alive connection each) over the worst requests a visitor can send, while one more client "
        f"sends the mid-word search (`{search['path']}`) one request at a time, each on a fresh connection. "
        f"Every request may take {ABUSE_TIMEOUT:.0f} s. Ad hoc SQL (`sql=`) takes turns on the server, so the "
        "abusers' times include their wait for a turn.",
        "",
        "| client | request | requests | p50 ms | p95 ms | p99 ms | max ms | statuses |",
        "|---|---|---|---|---|---|---|---|",
        f"| search, sequential | mid word | {search['requests']:,} | {_f(search['p50_ms'])} | {_f(search['p95_ms'])} | "
        f"{_f(search['p99_ms'])} | {_f(search['max_ms'])} | {_statuses(search['statuses'])} |",
    ]
    for label, q in a["abusers"]["per_request"].items():
        lines.append(
            f"| abusers | {label}: `{unquote(q['path'])}` | {q['requests']:,} | {_f(q['p50_ms'])} | {_f(q['p95_ms'])} | "
            f"{_f(q['p99_ms'])} | {_f(q['max_ms'])} | {_statuses(q['statuses'])} |"
        )
    lines.append(
        f"| **abusers, all** | | **{a['abusers']['requests']:,}** | | | | | {_statuses(a['abusers']['statuses'])} |"
    )
    failures = [
        (label, status, sample)
        for label, q in [("search, sequential", search), *a["abusers"]["per_request"].items()]
        for status, sample in q.get("samples", {}).items()
        if not status.isdigit() or status.startswith("5")
    ]
    if failures:
        lines += ["", "**Server errors or failed requests** (first of each):", ""]
        lines += [f"- {label}: {status}: `{_one_line(sample)}`" for label, status, sample in failures]
    p95, rss = search["p95_ms"], a.get("server_peak_rss_mb")
    p95_met = p95 is not None and p95 < ABUSE_SEARCH_P95_MS
    rss_met = rss is not None and rss < ABUSE_SERVER_RSS_MB
    lines += [
        "",
        f"Targets under abuse: search p95 under {ABUSE_SEARCH_P95_MS} ms — {_f(p95, 0)} ms "
        f"({search['non_200']} of {search['requests']:,} searches not 200, {search['cut_short']} of them cut short "
        f"by the time limit), met: {'yes' if p95_met else '**no**'}; "
        f"server resident memory under {ABUSE_SERVER_RSS_MB} MB — peak {_f(rss, 0)} MB (VmHWM after the phase), "
        f"met: {'yes' if rss_met else '**no**'}."
        + (f" **{a['stuck_threads']} client thread(s) still running after the deadline and timeout.**" if a.get("stuck_threads") else ""),
    ]
    return lines


def plot(results: dict, path: Path) -> str | None:
    """docs/benchmarks.png: build times and search p95 against size; None (and a note) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        results["plot_note"] = "skipped, matplotlib is not installed"
        return None
    sizes = sorted(n for n, r in results["sizes"].items() if "error" not in r)
    if not sizes:
        results["plot_note"] = "skipped, no size finished"
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (("ours", "ours (papers-db build)"), ("ots", "off-the-shelf (sqlite-utils)"), ("floor", "floor (sqlite3 + FTS5)")):
        left.plot(sizes, [results["sizes"][n]["steps"][key]["seconds"] for n in sizes], marker="o", label=label)
    left.set(xscale="log", yscale="log", xlabel="papers", ylabel="seconds", title="Build time")
    left.legend()
    for name in results["sizes"][sizes[0]]["http"]:
        if name.startswith("search"):
            right.plot(sizes, [results["sizes"][n]["http"][name]["p95_ms"] for n in sizes], marker="o", label=name[8:])
    right.set(xscale="log", xlabel="papers", ylabel="ms", title="Search p95 latency")
    right.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


# ----------------------------------------------------------------------------- entry points


def environment() -> dict:
    try:
        from importlib.metadata import version

        datasette_version = version("datasette")
    except Exception:  # noqa: BLE001 - only for the report
        datasette_version = "?"
    nginx_path = shutil.which("nginx")
    nginx_version = None
    if nginx_path:
        done = subprocess.run([nginx_path, "-v"], capture_output=True, text=True, timeout=10)
        nginx_version = (done.stderr or done.stdout).strip().replace("nginx version: ", "")
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "datasette": datasette_version,
        "load_tool": "wrk" if shutil.which("wrk") else f"a Python client ({LOAD_CONNECTIONS} threads; wrk not installed)",
        "nginx": nginx_version,
        "loadavg": " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?",
    }


def run(
    sizes: list[int],
    *,
    one_dump: bool = False,
    work: Path | None = None,
    out: Path | None = None,
    plot_path: Path | None = None,
    requests: int = 40,
    load_seconds: float = 10.0,
    abuse_seconds: float = 10.0,
    timeout: float = 7200.0,
    log: Log = lambda message: print(message, file=sys.stderr, flush=True),
) -> dict:
    """Run every phase for every size; write the markdown to `out` (and the plot beside it)."""
    results: dict[str, Any] = {
        "command": f"--sizes {','.join(map(str, sizes))}" + (" --one-dump" if one_dump else ""),
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment(),
        "sizes": {},
    }
    with ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-")))
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            log(f"{n:,} papers:")
            results["sizes"][n] = result = {"papers": n}
            try:
                run_size(
                    n,
                    work,
                    result,
                    one_dump=one_dump,
                    requests=requests,
                    load_seconds=load_seconds,
                    abuse_seconds=abuse_seconds,
                    timeout=timeout,
                    log=log,
                )
            except BenchError as error:  # report the sizes that did finish
                result["error"] = str(error)
                log(f"  {n:,} papers failed: {error}")
    complete = {n: r for n, r in results["sizes"].items() if "error" not in r}
    results["extrapolation"] = extrapolate(complete) if complete else None
    if plot_path is None and out is not None:
        plot_path = Path(out).with_suffix(".png")
    results["plot"] = plot(results, plot_path) if plot_path else None
    if plot_path is None:
        results["plot_note"] = "not requested (no --out)"
    results["markdown"] = render(results)
    if out is not None:
        write_section(Path(out), None, results["markdown"])
    return results


# The report's other sections, in this order, each from its marker to the next: notes written by
# hand (what changed between runs and why, which no run may drop), then the search against tantivy
# (bench/relevance/scale.py), then the soak (bench/soak.py).
HISTORY_MARKER = "<!-- written by hand below this line: no benchmark rewrites it -->"
PEER_MARKER = "<!-- bench.relevance.scale writes below this line -->"
SOAK_MARKER = "<!-- bench.soak writes below this line -->"
SECTION_MARKERS = (HISTORY_MARKER, PEER_MARKER, SOAK_MARKER)


def write_section(path: Path, marker: str | None, markdown: str) -> None:
    """Write one run's part of a shared report (`marker` None: the head, before every marker), keeping the others'."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    found = sorted((old.index(m), m) for m in SECTION_MARKERS if m in old)
    bounds = [0, *(at for at, _ in found), len(old)]
    owners = [None, *(m for _, m in found)]
    parts = {
        owner: old[start:end].removeprefix(owner or "").strip("\n")
        for owner, start, end in zip(owners, bounds, bounds[1:])
    }
    parts[marker] = markdown.strip("\n")
    text = parts.get(None, "")
    for owner in SECTION_MARKERS:
        if owner in parts:
            text = text + "\n\n" + owner + "\n\n" + parts[owner]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.lstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated numbers of papers (default 10000,100000)")
    parser.add_argument("--one-dump", action="store_true", help="also generate and build each size as one single dump")
    parser.add_argument("--out", type=Path, help="markdown report (the plot goes beside it as .png)")
    parser.add_argument("--work", type=Path, help="working folder, kept afterwards (default: a temporary one)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per latency case (after 3 warm-ups)")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--abuse-seconds", type=float, default=10.0, help="duration of the abuse phase (0 skips it)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds allowed to each measured command")
    parser.add_argument("--json", type=Path, help="also write the raw results as JSON")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes numbers such as 10000,100000")
    if not sizes or min(sizes) < 100:
        parser.error("every size must be at least 100 papers")
    # A plain `kill` unwinds like Ctrl-C: the finally blocks stop the servers and the running command.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    try:
        results = run(
            sizes,
            one_dump=args.one_dump,
            work=args.work,
            out=args.out,
            requests=args.requests,
            load_seconds=args.load_seconds,
            abuse_seconds=args.abuse_seconds,
            timeout=args.timeout,
        )
    except BenchError as error:
        print(f"bench.scale: {error}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in results.items() if k != "markdown"}, indent=2, default=str))
    print(results["markdown"])
    return 1 if any("error" in r for r in results["sizes"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
