"""Soak: `make serve`'s server under a bounded load on loopback, for the record in docs/benchmarks.md.

Usage:
    .venv/bin/python -m bench.soak [--db data/papers.db] [--seconds 30] [--connections 20] [--out docs/benchmarks.md]
    make soak    # the same, with the defaults

The server is the one `make serve` runs (`loader.site.serve_command`: supervisor
and server process). `wrk` (or the Python client of bench.scale when wrk is
missing) keeps `--connections` connections busy for `--seconds` on the `search`
saved query and then on the papers table page with its facets. Every response
must be 2xx or 3xx: the run exits 1 otherwise. The report replaces the section
after `bench.scale.SOAK_MARKER` in `--out`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from bench.scale import HOST, SOAK_MARKER, BenchError, answers, environment, free_port, load, process, write_section
from loader.site import serve_command

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (
    ("search", "/papers/search?q=" + quote("masked image modeling")),
    ("search JSON", "/papers/search.json?_shape=array&q=" + quote("diffusion transformer")),
    ("papers table page (default facets)", "/papers/papers"),
)


def soak(db: Path, seconds: float, connections: int) -> list[dict]:
    """Each target under load in turn, on one server; a result dict per target."""
    results = []
    with tempfile.TemporaryDirectory(prefix="soak-") as logs:
        port = free_port()
        with process(serve_command(db, HOST, port), Path(logs) / "server.log", answers(port)):
            for name, path in TARGETS:
                measured = load(port, path, seconds, connections)
                results.append({"name": name, "path": path, **measured})
                print(f"{name}: {measured['rps']:.1f} req/s, p99 {measured['p99_ms']:.0f} ms, "
                      f"non-2xx {measured['non_2xx']}, socket errors {measured['socket_errors']}", file=sys.stderr)
    return results


def failures(results: list[dict]) -> int:
    return sum(r["non_2xx"] + r["socket_errors"] + r["timeouts"] for r in results)


def render(results: list[dict], db: Path, seconds: float, connections: int) -> str:
    env = environment()
    lines = [
        f"## Soak: {seconds:g} seconds of load on `make serve`",
        "",
        f"`python -m bench.soak --seconds {seconds:g} --connections {connections}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, database `{db.name}` "
        f"({db.stat().st_size / 1e6:.1f} MB), {env['cpus']} CPUs, load with {env['load_tool']}. "
        f"Each target gets {connections} busy connections for {seconds:g} s on loopback, one after the other.",
        "",
        "| target | requests | req/s | p50 ms | p99 ms | non-2xx | socket errors | timeouts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['requests']:,} | {r['rps']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
            f"| {r['non_2xx']} | {r['socket_errors']} | {r['timeouts']} |"
        )
    verdict = "every response was 2xx." if not failures(results) else f"**{failures(results)} failed responses.**"
    return "\n".join(lines + ["", f"Result: {verdict}", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "data" / "papers.db")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--out", type=Path, help="report to update (the section after the soak marker)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db}: no such database (make build creates it)")
    try:
        results = soak(args.db, args.seconds, args.connections)
    except BenchError as error:
        print(f"bench.soak: {error}", file=sys.stderr)
        return 1
    markdown = render(results, args.db, args.seconds, args.connections)
    if args.out:
        write_section(args.out, SOAK_MARKER, markdown)
    print(markdown)
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
