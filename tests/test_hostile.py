"""The site under hostile requests: no 500s, no writes, no SQL beyond what a parameter allows.

Hostile strings go to every parameter of every saved query, to the table
page's special arguments and filters, to row pages and to the SQL box, through
the real Datasette with the project's plugins and settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import yaml

from loader.dashboard import PATH as DASHBOARD
from loader.dashboard import TRENDS, chart_data_paths, dashboards
from loader.site import METADATA, datasette_instance
from tests.conftest import ROOT

HOSTILE = [
    '"',
    '""',
    '"unclosed phrase',
    "a AND OR NOT b",
    "NEAR(a b, 2)",
    "title:",
    "abstract:* OR",
    "-a",
    "^start",
    "*",
    "a**",
    "(",
    ")",
    "[",
    "]",
    "{title}: x",
    "'",
    "' OR 1=1 --",
    "1; drop table papers; --",
    "1 union select sql from sqlite_master",
    "'); delete from papers; --",
    "\x00",
    "a\x00b",
    "\n\r\t",
    "x" * 10_000,
    "word " * 2_000,
    " ".join(f"zq{chr(97 + i % 26)}{chr(97 + i // 26)}xwvk" for i in range(200)),  # 200 words to correct
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "~2F~2E~2E",
    "%00",
    "<script>alert(1)</script>",
    "\u202e\u200b",
    "😀🔥",
    "-1",
    "9" * 40,
    "1e309",
    "NaN",
]

# Arguments of a table page that reach SQL or name columns and tables.
TABLE_ARGUMENTS = [
    "_search",
    "_search_title",
    "_sort",
    "_sort_desc",
    "_facet",
    "_facet_array",
    "_facet_counted",
    "_fts_table",
    "_fts_pk",
    "_where",
    "_next",
    "_size",
    "_col",
    "_nocol",
    "_shape",
    "_through",
    "listed_in__arraycontains",
    "listed_in__arraynotcontains",
    "title__contains",
    "published_year__gt",
    "id__in",
    "organisation__isnull",
]


def saved_queries() -> dict[str, list[str]]:
    """Each saved query with its parameters, read from metadata.yml."""
    queries = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["papers"]["queries"]
    found = {}
    for name, query in queries.items():
        sql = query["sql"]
        found[name] = sorted({word[1:] for word in sql.replace("(", " ").replace(")", " ").replace(",", " ").split()
                              if word.startswith(":") and word[1:].isidentifier()})
    return found


@pytest.fixture(scope="module")
def site(papers_db):
    return datasette_instance(papers_db)


@pytest.fixture(scope="module")
def digest_before(papers_db):
    return hashlib.sha256(papers_db.read_bytes()).hexdigest()


async def status_of(site, path: str) -> int:
    response = await site.client.get(path)
    assert response.status_code < 500, (path[:200], response.status_code, response.text[:300])
    return response.status_code


def test_every_saved_query_has_its_parameters_found(digest_before):  # digest taken first
    queries = saved_queries()
    assert queries["search"] == ["has_code", "mode", "q", "year_from", "year_to"]
    assert queries["related"] == ["id"] and queries["repos_by_owner"] == ["owner"]
    assert queries["new_papers"] == ["has_code", "q", "year_from", "year_to"]
    assert queries["new_in_latest"] == ["listing", "year_from", "year_to"] and queries["rising"] == ["year_from", "year_to"]
    assert dashboard_filters() == ["year_from", "year_to"]


FEEDS = {"new_papers", "new_in_latest"}  # the saved queries that are Atom feeds too


@pytest.mark.parametrize("name", sorted(saved_queries()))
async def test_saved_queries_answer_hostile_parameters(site, name):
    parameters = saved_queries()[name]
    suffixes = (".json?_shape=array&", "?") + ((".atom?",) if name in FEEDS else ())
    for value in HOSTILE:
        for parameter in parameters or ["_"]:
            query = "&".join(f"{p}={quote(value if p == parameter else '')}" for p in parameters or ["_"])
            for suffix in suffixes:
                assert await status_of(site, f"/papers/{name}{suffix}{query}") in (200, 400)


def dashboard_filters() -> list[str]:
    return sorted(dashboards(yaml.safe_load(METADATA.read_text(encoding="utf-8")))[TRENDS]["filters"])


@pytest.mark.parametrize("name", dashboard_filters())
async def test_the_dashboard_and_its_charts_answer_hostile_filters(site, name):
    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    for value in HOSTILE:
        assert await status_of(site, f"{DASHBOARD}?{name}={quote(value)}") == 200
        for chart, path in chart_data_paths(metadata, {name: value}).items():
            assert await status_of(site, path) in (200, 400), (chart, value[:40])


async def test_injection_through_parameters_runs_no_extra_sql(site):
    for value in ("' OR 1=1 --", "1 or 1=1", "x' union select sql, 1, 1, 1, 1 from sqlite_master --"):
        for name, parameter in (("repos_by_owner", "owner"), ("related", "id")):
            response = await site.client.get(f"/papers/{name}.json", params={parameter: value, "_shape": "array"})
            assert response.status_code == 200 and response.json() == [], (name, value)


@pytest.mark.parametrize("argument", TABLE_ARGUMENTS)
async def test_table_arguments_answer_hostile_values(site, argument):
    for value in HOSTILE:
        for suffix in ("", ".json"):
            status = await status_of(site, f"/papers/papers{suffix}?{argument}={quote(value)}")
            assert status in (200, 302, 400, 404), (argument, value[:40], status)


async def test_row_pages_answer_hostile_keys(site):
    for value in HOSTILE:
        for table in ("papers", "repos", "dumps", "appearances", "links"):
            key = quote(value, safe="")
            assert await status_of(site, f"/papers/{table}/{key}") in (200, 302, 400, 404)
            assert await status_of(site, f"/papers/{table}/{key}.json") in (200, 302, 400, 404)


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/papers/papers{}?_sort=nosuchcolumn", "Cannot sort table by nosuchcolumn"),
        ("/papers/papers{}?_facet=%7Bnot+json", "Expecting property name"),
        ("/papers/papers{}?_where=a%00b", "null character"),
        ("/papers/papers{}?_where=1;select+1", "one statement at a time"),
        ("/papers/papers{}?published_year__gt=99999999999999999999999", "too large to convert"),
        ("/papers/papers{}?_through=%5B1%5D", "list indices must be integers"),
        ("/papers/links/abc{}", "binding parameter"),  # one value for a key of two columns
    ],
)
async def test_what_datasette_answered_with_500_is_its_own_error_page_with_400(site, path, reason):
    # Datasette 0.65 answers each of these with a 500; plugins/bad_requests.py makes them a 400
    # that says why, as Datasette's error page and its JSON error.
    page = await site.client.get(path.format(""))
    assert page.status_code == 400 and "<h1>Error 400</h1>" in page.text and "Invalid request: " in page.text, page.text[:300]
    assert reason in page.text
    data = await site.client.get(path.format(".json"))
    assert data.status_code == 400
    error = data.json()
    assert (error["ok"], error["status"]) == (False, 400) and error["error"].startswith("Invalid request: ") and reason in error["error"]


async def test_broken_percent_encoding_answers_what_it_asks_for(site):
    # Bytes that are not UTF-8 once decoded are the visitor's text: the search and the table answer;
    # a filter naming no column is a 400; a name with such bytes is tilde-encoded, then not found.
    for path, expected in (
        ("/papers/search?q=%FF%FE", 200),
        ("/papers/search?q=%ED%A0%80", 200),  # an encoded UTF-16 surrogate: not UTF-8
        ("/papers/papers?_search=%", 200),
        ("/papers/papers?%FF=1", 400),
    ):
        assert await status_of(site, path) == expected, path
    for path in ("/papers/papers/%FF", "/papers/%FF", "/%FF"):
        redirect = await site.client.get(path)
        assert redirect.status_code == 302 and redirect.headers["location"] == path.replace("%FF", "~FF"), path
        assert await status_of(site, redirect.headers["location"]) == 404, path


# Paths that climb out of a route, as a visitor types them. An HTTP client library (and Datasette's
# in-process test client) removes `..` before sending, so these go over a raw socket, byte for byte.
PATH_TRICKS = [
    "/papers.db/../../etc/passwd",
    "/papers.db/..%2F..%2Fetc%2Fpasswd",
    "/papers/../../etc/passwd",
    "/../../etc/passwd",
    "/static/../settings.json",
    "/static/../../../../etc/passwd",
    "/static/..%2Fsettings.json",
    "/static/..%2F..%2Fsettings.json",
    "/static/%2e%2e/settings.json",
    "/static/%2e%2e%2fsettings.json",
    "/static/.%2e/settings.json",
    "/static/..%5csettings.json",
    "/static/..\\settings.json",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/-/static/../../../etc/passwd",
    "/-/static/..%2F..%2F..%2Fetc%2Fpasswd",
    "/-/static-plugins/datasette/../../../../etc/passwd",
    "/papers/papers/..%2F..%2Fetc%2Fpasswd",
]


def raw_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as given: http.client sends the request line as it is, with no normalising."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def real_server(papers_db):
    """`make serve`'s server process (without the supervisor) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "loader.site", str(papers_db), "--no-reload", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                if raw_get(port, "/-/versions.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the server did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_paths_that_climb_out_of_the_site_are_404_on_a_real_server_and_never_a_file(real_server, papers_db):
    port = real_server
    secrets = [
        (ROOT / "settings.json").read_bytes(),
        (ROOT / "README.md").read_bytes()[:200],
        papers_db.read_bytes()[:16],  # "SQLite format 3"
    ]
    passwd = next((line for line in open("/etc/passwd", "rb") if line.strip()), None)
    secrets += [passwd] if passwd else []
    # The static mount itself serves: the tricks below reach the handler that would read a file.
    status, _, body = raw_get(port, "/static/site.css")
    assert status == 200 and body == (ROOT / "static" / "site.css").read_bytes()
    for path in PATH_TRICKS:
        status, headers, body = raw_get(port, path)
        if status == 302:  # Datasette tilde-encodes a row key or a table name holding / and asks again
            location = headers["location"]
            assert location.startswith("/") and ".." not in location and "%2F" not in location.upper(), (path, location)
            status, headers, body = raw_get(port, location)
        assert status == 404, (path, status, body[:200])
        assert not [secret for secret in secrets if secret in body], path

@pytest.mark.parametrize(
    "sql",
    [
        "insert into papers (id, title) values (1, 'x')",
        "update papers set title = 'x'",
        "delete from papers",
        "drop table papers",
        "create table x (a)",
        "with x as (select 1) insert into dumps (name) select 'x'",
        "with x as (select 1) delete from papers",
        "pragma writable_schema = 1",
        "attach database '/tmp/x.db' as x",
        "vacuum into '/tmp/copy.db'",
        "select 1; delete from papers",
        "replace into papers (id) values (1)",
        "begin; delete from papers; commit",
    ],
)
async def test_writes_through_the_sql_box_are_refused(site, papers_db, digest_before, sql):
    response = await site.client.get("/papers.json", params={"sql": sql})
    assert response.status_code == 400, (sql, response.status_code)
    assert hashlib.sha256(papers_db.read_bytes()).hexdigest() == digest_before
    count = await site.client.get("/papers.json", params={"sql": "select count(*) as n from papers", "_shape": "array"})
    assert count.json() == [{"n": 255}]


async def test_a_runaway_query_is_stopped_while_search_still_answers(site):
    """Checked by the order of events, not by the clock: every search answers while the runaway query
    still holds its SQL thread, and the runaway then ends with the time limit's error. With one SQL
    thread (num_sql_threads = 1) the searches queue behind it and answer only after it is stopped."""
    runaway = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    events: list[str] = []
    slow = asyncio.create_task(site.client.get("/papers.json", params={"sql": runaway}))
    slow.add_done_callback(lambda _: events.append("runaway stopped"))
    await asyncio.sleep(0.3)  # let it reach its SQL thread (not a bound: a late start only makes the test easier)
    assert not slow.done()
    for _ in range(5):
        response = await site.client.get("/papers/search.json", params={"q": "masked image modeling", "_shape": "array"})
        assert response.status_code == 200 and len(response.json()) > 0
        events.append("search answered")
    stopped = await asyncio.wait_for(slow, 60)  # a guard against a hang, not a measure of speed
    assert events == ["search answered"] * 5 + ["runaway stopped"]
    assert stopped.status_code == 400 and "too long" in stopped.text.lower()


def test_the_database_file_is_unchanged_after_everything(papers_db, digest_before):
    assert hashlib.sha256(papers_db.read_bytes()).hexdigest() == digest_before
