"""The scale benchmark harness (bench/scale.py), end to end on 1,000 papers: every phase runs and reports.

Three parts need a tool from outside Python: the load runs with wrk, the scale-out with nginx, the
plot with matplotlib. A part whose tool is installed must run. Without the tool the harness falls
back (a Python load client) or skips (scale-out, plot), and so does this test, except on CI
(CI=true, where .ci/run installs wrk and nginx and pyproject.toml matplotlib): there every part must
run or the test fails, as the browser test does.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bench.scale import WHOLE_DASHBOARD, parse_wrk, run
from loader.dashboard import TRENDS, dashboards
from loader.site import METADATA

PAPERS = 1000
ROOT = Path(__file__).resolve().parent.parent

ON_CI = os.environ.get("CI") == "true"


def tool_needed(installed: bool, what: str) -> bool:
    """True when the part that needs `what` must have run: the tool is there, or this is CI (which fails without it)."""
    if ON_CI:
        assert installed, f"{what} is not installed, and on CI (CI=true) every part of the benchmark must run"
    return installed


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    return folder, run(
        [PAPERS],
        one_dump=True,
        work=folder / "work",
        out=folder / "benchmarks.md",
        requests=8,
        load_seconds=2,
        abuse_seconds=2,
        timeout=300,
        log=lambda message: None,
    )


def number(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def test_every_build_phase_has_time_and_memory(results):
    _, r = results
    size = r["sizes"][PAPERS]
    steps = size["steps"]
    for name in ("ours", "ours_one_dump", "ots_parse", "ots_insert", "ots_fts", "ots", "floor", "ours_without_embedding", "incremental"):
        assert number(steps[name]["seconds"]) and steps[name]["seconds"] > 0, name
        assert number(steps[name]["rss_mb"]) and 5 < steps[name]["rss_mb"] < 4000, name
    for name in ("generate", "generate_one_dump"):
        assert steps[name]["seconds"] > 0 and steps[name]["data_mb"] > 0
    for name in ("ours", "ours_one_dump", "ots", "floor", "ours_without_embedding", "incremental"):
        assert steps[name]["db_mb"] > 0, name
    assert size["papers_in_db"] == PAPERS
    assert steps["floor"]["papers"] == PAPERS
    phases = steps["floor"]["phases"]
    assert set(phases) == {"parse + insert (2 processes)", "FTS5 rebuild", "FTS5 optimize"}
    assert all(number(seconds) and 0 <= seconds < steps["floor"]["seconds"] for seconds in phases.values())
    assert steps["ours_without_embedding"]["papers"] == PAPERS
    assert steps["ours_without_embedding"]["db_mb"] < steps["ours"]["db_mb"]  # less the vectors' table
    assert steps["ots_parse"]["records"] == size["entries"]
    assert steps["incremental"]["new_papers"] == 100 and steps["incremental"]["collisions"] == 0
    for ratio in size["ratios"].values():
        assert number(ratio) and ratio > 0
    assert set(size["phase_seconds"]) >= {"generate", "ours: papers-db build", "http latency", "load: one process", "abuse: one process"}


def test_http_cases_answer_without_errors(results):
    _, r = results
    http = r["sizes"][PAPERS]["http"]
    kinds = {"common word", "rare word", "phrase", "phrase of common words", "prefix", "multi-word", "common word, one year"}
    kinds |= {"one-letter prefix", "two-letter prefix", "prefix on every word", "stop words only"}
    assert {f"search: {kind}" for kind in kinds} <= set(http)
    tables = {f"table {t} {kind}, {when}" for t in ("papers", "repos", "appearances") for kind in ("HTML", "JSON") for when in ("first", "repeated")}
    assert tables | {"row page (HTML)"} <= set(http)
    charts = dashboards(yaml.safe_load(METADATA.read_text(encoding="utf-8")))[TRENDS]["charts"]
    dashboard = {"dashboard page (HTML)", WHOLE_DASHBOARD} | {f"dashboard chart: {slug}{years}" for slug in charts for years in ("", ", years")}
    feeds = {"feed: newest papers", "feed: common word", "feed: rare word", "feed: new in the latest listing"}
    assert dashboard | feeds <= set(http)
    for name, case in http.items():
        assert case["non_200"] == 0, (name, case["statuses"])
        assert case["statuses"] == {"200": 8}, name
        assert number(case["p50_ms"]) and case["p50_ms"] <= case["p95_ms"] <= case["p99_ms"] <= case["max_ms"], name
        if name.startswith("search"):
            assert case["results"] > 0, name  # every query class was picked so that it finds something
    for when in ("first", "repeated"):
        assert http[f"table papers JSON, {when}"]["facets"] == ["appearances", "has_code", "organisation", "published_year"]
    assert (http["search: one-letter prefix"]["q"], http["search: two-letter prefix"]["q"]) == ("a*", "tr*")
    assert http["search: stop words only"]["q"] == "the of and"
    every = http["search: prefix on every word"]["q"].split()
    assert len(every) == 3 and len(set(every)) == 3 and all(len(term) == 4 and term.endswith("*") for term in every), every


def test_abuse_leaves_search_answering(results):
    folder, r = results
    size = r["sizes"][PAPERS]
    abuse = size["abuse"]
    search = abuse["search"]
    assert search["requests"] > 0
    # Every search answers with its results: never the time limit's sentence, an error page, a 5xx or a reset.
    assert search["statuses"] == {"200": search["requests"]} and search["cut_short"] == 0, search["samples"]
    assert number(search["p50_ms"]) and search["p50_ms"] <= search["p95_ms"] <= search["p99_ms"] <= search["max_ms"]
    statuses = abuse["abusers"]["statuses"]
    assert abuse["abusers"]["requests"] == sum(statuses.values()) > 0
    # Every abusive request was answered (no reset, no timeout), and none with a server error.
    assert all(status.isdigit() for status in statuses), statuses
    assert not [status for status in statuses if status.startswith("5")], statuses
    per_request = abuse["abusers"]["per_request"]
    assert sum(q["requests"] for q in per_request.values()) == abuse["abusers"]["requests"]
    # The abusers start spread over the list, the first and the last among them, so both were sent.
    assert per_request["a 300 MB randomblob"]["requests"] > 0 and per_request["search of 26 one-letter prefixes"]["requests"] > 0
    assert set(per_request["a 300 MB randomblob"]["statuses"]) <= {"400", "429"}  # refused, never made
    assert abuse["stuck_threads"] == 0
    assert number(abuse["server_peak_rss_mb"]) and abuse["server_peak_rss_mb"] >= size["server_peak_rss_mb"]
    markdown = (folder / "benchmarks.md").read_text(encoding="utf-8")
    assert f"### Under abuse, {PAPERS:,} papers" in markdown and "Targets under abuse" in markdown


def test_load_and_scale_out(results):
    _, r = results
    size = r["sizes"][PAPERS]
    with_wrk = tool_needed(shutil.which("wrk") is not None, "wrk")
    assert size["load"]
    for name, run_ in size["load"].items():
        assert run_["rps"] > 0 and run_["requests"] > 0, name
        assert run_["non_2xx"] == 0 and run_["socket_errors"] == 0, name
        assert run_["tool"] == "wrk" if with_wrk else run_["tool"].startswith("python"), (name, run_["tool"])
        # The server's own CPU time while it answered, read from /proc, tree included: no more cores than the machine has.
        assert 0 < run_["server_cores"] <= os.cpu_count() * 1.1, (name, run_["server_cores"])
    if tool_needed(shutil.which("nginx") is not None, "nginx"):
        assert "error" not in size["scale_out"] and "skipped" not in size["scale_out"], size["scale_out"]
        assert set(size["scale_out"]) == set(size["load"])
        for name, run_ in size["scale_out"].items():
            assert run_["rps"] > 0 and run_["non_2xx"] == 0 and number(run_["gain"]), name
            assert 0 < run_["server_cores"] <= os.cpu_count() * 1.1, (name, run_["server_cores"])
    else:
        assert "skipped" in size["scale_out"]
    for pid in size["servers"]:  # every server and nginx was stopped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_report_and_extrapolation(results):
    folder, r = results
    for metric in ("build_seconds", "db_mb", "floor_seconds", "ots_seconds"):
        assert number(r["extrapolation"][metric]["loglog"]) and r["extrapolation"][metric]["loglog"] > 0
    markdown = (folder / "benchmarks.md").read_text(encoding="utf-8")
    assert markdown == r["markdown"].rstrip("\n") + "\n"  # one newline at the end of the file
    for heading in ("## 1,000 papers", "### Latency", "### Load", "## Summary", "10M extrapolation"):
        assert heading in markdown
    assert "ours/floor" in markdown and "search: phrase" in markdown
    assert "| every dashboard chart's data p95 under 300 ms |" in markdown and "| dashboard chart: rising |" in markdown
    if tool_needed(importlib.util.find_spec("matplotlib") is not None, "matplotlib"):
        assert r["plot"] == "benchmarks.png", r.get("plot_note")
        assert (folder / r["plot"]).read_bytes().startswith(b"\x89PNG")
        assert "Plot: skipped" not in markdown
    else:
        assert r["plot"] is None and "Plot: skipped, matplotlib is not installed" in markdown


def test_parse_wrk_units():
    output = """Running 10s test @ http://127.0.0.1:8001/
  2 threads and 10 connections
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%    2.50ms
     99%    1.05s
  1234 requests in 10.01s, 5.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    123.30
Transfer/sec:    511.00KB
"""
    parsed = parse_wrk(output)
    assert parsed["rps"] == 123.3 and parsed["requests"] == 1234
    assert parsed["p50_ms"] == pytest.approx(0.85) and parsed["p99_ms"] == pytest.approx(1050)
    assert parsed["non_2xx"] == 7 and parsed["socket_errors"] == 4 and parsed["timeouts"] == 3


def test_soak_reports_no_failed_responses_and_survives_a_scale_report(papers_db, tmp_path):
    from bench import soak
    from bench.scale import PEER_MARKER, SOAK_MARKER, write_section

    out = tmp_path / "benchmarks.md"
    out.write_text("# Scale\n\nearlier report\n", encoding="utf-8")
    assert soak.main(["--db", str(papers_db), "--seconds", "2", "--connections", "4", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Scale\n\nearlier report\n") and SOAK_MARKER in text
    rows = [line for line in text.splitlines() if line.startswith("| search") or line.startswith("| papers table")]
    assert len(rows) == 3
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert int(cells[1].replace(",", "")) > 0 and cells[5:] == ["0", "0", "0"], row
    soak_section = text[text.index(SOAK_MARKER):]
    write_section(out, None, "# Scale\n\nnewer report\n")  # what bench.scale does
    assert out.read_text(encoding="utf-8") == "# Scale\n\nnewer report\n\n" + soak_section
    write_section(out, PEER_MARKER, "## Against tantivy\n\nfirst\n")  # bench.relevance.scale: before the soak
    peer_section = f"{PEER_MARKER}\n\n## Against tantivy\n\nfirst\n\n"
    assert out.read_text(encoding="utf-8") == "# Scale\n\nnewer report\n\n" + peer_section + soak_section
    write_section(out, None, "# Scale\n\nnewest\n")
    write_section(out, PEER_MARKER, "## Against tantivy\n\nsecond\n")
    assert out.read_text(encoding="utf-8") == "# Scale\n\nnewest\n\n" + peer_section.replace("first", "second") + soak_section


def test_notes_written_by_hand_survive_every_run_that_rewrites_the_report(tmp_path):
    """The scale run replaced everything before the other runs' markers, and with it a day's notes."""
    from bench.scale import HISTORY_MARKER, PEER_MARKER, SOAK_MARKER, write_section

    out = tmp_path / "benchmarks.md"
    notes = f"{HISTORY_MARKER}\n\n## How the build got here\n\nby hand\n\n"
    peer = f"{PEER_MARKER}\n\n## Against tantivy\n\nfirst\n\n"
    soak = f"{SOAK_MARKER}\n\n## Soak\n\nfine\n"
    out.write_text("# Scale\n\nearlier report\n\n" + notes + peer + soak, encoding="utf-8")
    write_section(out, None, "# Scale\n\nnewer report\n")
    assert out.read_text(encoding="utf-8") == "# Scale\n\nnewer report\n\n" + notes + peer + soak
    write_section(out, PEER_MARKER, "## Against tantivy\n\nsecond\n")
    write_section(out, SOAK_MARKER, "## Soak\n\nfine\n")
    assert out.read_text(encoding="utf-8") == "# Scale\n\nnewer report\n\n" + notes + peer.replace("first", "second") + soak


def test_the_relevance_scale_run_reports_every_class_for_ours_and_tantivy(tmp_path):
    """`make bench-relevance-scale` end to end on 500 synthetic papers: the report and its section of benchmarks.md."""
    from bench.relevance import scale as relevance_scale
    from bench.relevance.evaluate import load_judgements
    from bench.scale import PEER_MARKER

    report, benchmarks = tmp_path / "relevance-scale.md", tmp_path / "benchmarks.md"
    benchmarks.write_text("# Scale\n\nearlier report\n", encoding="utf-8")
    argv = ["--papers", "500", "--warmups", "0", "--repeats", "1", "--out", str(report), "--benchmarks", str(benchmarks)]
    assert relevance_scale.main(argv) == 0
    classes = {query.kind for query in load_judgements()[0]} | {"**all**", "**held-out all**"}
    for text in (report.read_text(encoding="utf-8"), benchmarks.read_text(encoding="utf-8")):
        table = text[text.index("| class | queries | ours R@5") :].split("\n\n")[0]
        rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
        assert classes <= set(rows), classes - set(rows)
        name_row = [cell.strip() for cell in rows["name"].strip("|").split("|")]
        assert name_row[2] == name_row[3] == "1.000"  # every name query finds its paper, in both engines
        assert all(float(cell) > 0 for cell in name_row[6:])  # ours and tantivy timed
    text = benchmarks.read_text(encoding="utf-8")
    assert text.startswith("# Scale\n\nearlier report\n\n" + PEER_MARKER) and "### 500 synthetic papers" in text
    # and every class in each mode of search: words, meaning, both
    header = "| class | words R@5 | words MRR | words p95 ms | meaning R@5 | meaning MRR | meaning p95 ms | both R@5 |"
    for text in (report.read_text(encoding="utf-8"), text):
        assert header in text
        modes_rows = text[text.index(header):].split("\n\n")[0].splitlines()[2:]
        assert {row.split("|")[1].strip() for row in modes_rows} == classes
    assert "Errors of ours (answers other than 200): none." in report.read_text(encoding="utf-8")
    # the server's start (to its first answer, vectors loaded) and its peak memory, measured
    server = re.search(r"\| server \| answering ([\d.]+) s after its start .* peak memory (\d+) MB", report.read_text(encoding="utf-8"))
    assert server and float(server[1]) > 0 and int(server[2]) > 50
    assert re.search(r"Load average over the last 5 minutes of queries: [\d.]+ on \d+ CPUs", report.read_text(encoding="utf-8"))
    # and how the typos' suggestions did: every single-word typo of typos.yml counted
    typos = re.search(r"Suggestions right for the single-word typos: tuned (\d+) of (\d+), held-out (\d+) of (\d+)", report.read_text(encoding="utf-8"))
    assert typos and int(typos[2]) + int(typos[4]) == len(yaml.safe_load((ROOT / "bench/relevance/typos.yml").read_text())["typos"])
