"""The site as a visitor uses it: a real `datasette serve` driven by a real headless Chromium.

The server is started with `loader.site.serve_command`, the very command line
`make serve` runs, over the database built from data/. The browser is
Debian's chromium (never a downloaded one); without it the test is skipped,
except on CI (CI=true), where it must run and so fails instead.

Nothing leaves the machine: every request that is not for the local server
is aborted, and the one GitHub page the scenario follows is answered by a
Playwright route with a small HTML body.

The scenario also saves full-page screenshots of the results page and the
paper page to docs/screenshots/, for the README; the Trends dashboard test
saves one of the dashboard, drawn with the network blocked.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from loader.dashboard import PATH as TRENDS_PATH
from loader.dashboard import TRENDS, dashboards
from loader.site import METADATA, serve_command

ROOT = Path(__file__).resolve().parent.parent
# Screenshots go to the test's temporary folder; `SCREENSHOTS=docs/screenshots make test`
# refreshes the ones the README shows.
SCREENSHOTS = Path(os.environ["SCREENSHOTS"]) if os.environ.get("SCREENSHOTS") else None
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 20.0

# What a person looking for work on linear probing would type.
QUERY = "linear probing"
QUERY_WORDS = ("linear", "probing")
# Expected first result, checked by hand in data/000_cb7cd7af2323319e.txt: it is
# the only paper of the 255 with "probing" in its *title* (the search weights
# title matches 10x), and its abstract says "probing" eight times, including
# "the standard linear probing (LP)". Its BM25 score is 10.4; the runner-up,
# "Can Pre-trained Networks Detect Familiar Out-of-Distribution Data?", scores 6.7
# with "linear-probing" twice in its abstract only. Five papers match in all.
EXPECTED_TOP_TITLE = "Attention, Please! Revisiting Attentive Probing for Masked Image Modeling"
# The abstract of that paper ends "Code available at https://github.com/billpsomas/efficient-probing."
EXPECTED_CODE_URL = "https://github.com/billpsomas/efficient-probing"
FAKE_GITHUB_BODY = "<!doctype html><title>efficient-probing</title><h1>billpsomas/efficient-probing (stand-in)</h1>"


def chromium_executable() -> str:
    """Debian's chromium, or a skip (a failure on CI, which must run this test)."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    message = (
        "no chromium executable found: install Debian's chromium (apt-get install chromium) "
        "to run the browser test; Playwright's own browser download is not used"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true, so this test must not be skipped)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"datasette exited with {process.returncode} before serving:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"datasette did not answer {url} within {STARTUP_TIMEOUT:.0f}s:\n{log.read_text(errors='replace')}")


@contextmanager
def serving(db: Path, log: Path) -> Iterator[str]:
    """Base URL of a real `datasette serve` of `db` (the `make serve` command line) on a free port."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            serve_command(db, "127.0.0.1", port),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base + "/", process, log)
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(papers_db, tmp_path_factory):
    with serving(papers_db, tmp_path_factory.mktemp("server") / "datasette.log") as base:
        yield base


@pytest.fixture(scope="module")
def synthetic_server(synthetic_db, tmp_path_factory):
    """The same, over 3,000 synthetic papers (conftest.py), whose upvotes grow: every chart has data."""
    with serving(synthetic_db, tmp_path_factory.mktemp("synthetic-server") / "datasette.log") as base:
        yield base


@pytest.fixture
def chromium() -> str:
    return chromium_executable()


@contextmanager
def offline_page(chromium: str, server: str, refused: list[str]) -> Iterator:
    """A Chromium page at 1280x900 that can reach only the local server; what it asks of any other
    host is refused and noted in `refused`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)

            def local_only(route):
                # Offline by construction: anything not for our server is refused.
                if route.request.url.startswith(server + "/"):
                    route.continue_()
                else:
                    refused.append(route.request.url)
                    route.abort()

            context.route("**/*", local_only)
            page = context.new_page()
            page.set_default_timeout(10_000)
            yield page
            context.close()
        finally:
            browser.close()


@pytest.fixture
def page(chromium, server):
    with offline_page(chromium, server, []) as page:
        yield page


def matches_a_query_word(text: str) -> bool:
    """`text` is one of the query words or shares its stem (search stems: probe, probing, probes)."""
    word = text.strip().casefold()
    return bool(word) and any(word[:4] == q[:4] for q in QUERY_WORDS)


@pytest.mark.browser
def test_search_from_home_page_to_paper_and_its_code(page, server, tmp_path):
    followed = []

    def fake_github(route):
        followed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=FAKE_GITHUB_BODY)

    # Registered on the page, so it takes precedence over the context's local-only rule.
    page.route("https://github.com/**", fake_github)

    # Home page: type the query into the search box and press Enter.
    page.goto(server + "/")
    box = page.locator("form.paper-search input[name=q]")
    assert box.is_visible()
    box.click()
    box.type(QUERY)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/papers/search\?"))
    url = urlsplit(page.url)
    assert url.path == "/papers/search"
    assert parse_qs(url.query)["q"] == [QUERY]

    # Results are cards, best match first.
    cards = page.locator("ol.results li.result")
    cards.first.wait_for()
    count = cards.count()
    assert count >= 2
    titles = [t.strip() for t in cards.locator(".result-title a").all_inner_texts()]
    assert len(titles) == count
    assert titles[0] == EXPECTED_TOP_TITLE

    # The count is visible and agrees with the cards.
    result_count = page.locator("p.result-count")
    assert result_count.is_visible()
    count_text = result_count.inner_text()
    found = re.match(r"\s*(\d+)\+? papers?, best match first", count_text)
    assert found, count_text
    assert int(found.group(1)) == count

    # Snippets highlight the query words, and only them.
    marks = [m for m in page.locator("ol.results li.result .snippet mark").all_inner_texts()]
    assert cards.first.locator(".snippet mark").count() >= 1
    assert marks, "no <mark> in any snippet"
    assert all(matches_a_query_word(m) for m in marks), marks
    assert {q for q in QUERY_WORDS if any(m.strip().casefold().startswith(q) for m in marks)} == set(QUERY_WORDS)
    # The markers are rendered as elements, never as escaped text.
    assert "&lt;mark&gt;" not in page.content()
    assert "<mark>" not in " ".join(cards.locator(".snippet").all_inner_texts())

    # The site's stylesheet is loaded: cards have a border and marks the site's colour.
    border = cards.first.evaluate("e => getComputedStyle(e).borderTopWidth")
    assert border == "1px", border
    mark_colour = cards.first.locator(".snippet mark").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert mark_colour == "rgb(255, 229, 138)", mark_colour

    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "search.png"))  # the first screenful, as a visitor sees it

    # The first title leads to the paper's own page.
    cards.first.locator(".result-title a").click()
    page.wait_for_url(re.compile(r"/papers/papers/\d+$"))
    assert re.fullmatch(r"/papers/papers/\d+", urlsplit(page.url).path)
    heading = page.locator("h1.paper-title")
    assert heading.is_visible()
    assert heading.inner_text().strip() == EXPECTED_TOP_TITLE
    assert page.title() == EXPECTED_TOP_TITLE

    # "Code and links" lists the repository with a safe rel.
    heading = page.locator("article.paper h2", has_text="Code and links")
    assert heading.is_visible()
    code_link = page.locator(f'ul.paper-links a[href="{EXPECTED_CODE_URL}"]')
    assert code_link.count() == 1
    assert "noopener" in (code_link.get_attribute("rel") or "").split()
    assert code_link.is_visible()

    page.screenshot(path=str(shots / "paper.png"), full_page=True)
    assert (shots / "search.png").stat().st_size > 10_000 and (shots / "paper.png").stat().st_size > 10_000

    # Following it goes to GitHub (answered locally: there is no internet here).
    code_link.click()
    page.wait_for_url(EXPECTED_CODE_URL)
    assert page.url == EXPECTED_CODE_URL
    assert followed == [EXPECTED_CODE_URL]
    assert page.locator("h1").inner_text() == "billpsomas/efficient-probing (stand-in)"


DESCRIPTION = "isolate the vocalist from the backing band"
DESCRIBED = "Singing Voice Separation Using a Deep Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy"


@pytest.mark.browser
def test_a_description_finds_its_paper_when_the_visitor_asks_for_meaning_too(page, server):
    """The paper says "singing voice separation"; the visitor describes it in other words."""
    page.goto(server + "/papers/search?q=" + DESCRIPTION.replace(" ", "+"))
    assert DESCRIBED not in page.content()  # by words (the default): not found
    page.locator("details.filters summary").click()
    page.locator("select[name=mode]").select_option("both")
    page.locator("form.paper-search button[type=submit]").click()
    page.wait_for_url(re.compile(r"mode=both"))
    first = page.locator("ol.results li.result").first
    first.wait_for()
    assert first.locator(".result-title a").inner_text().strip() == DESCRIBED
    assert first.locator(".meaning-match").inner_text().strip() == "found by meaning"
    assert page.locator("select[name=mode]").input_value() == "both"  # the choice is kept


CHARTS = list(dashboards(yaml.safe_load(METADATA.read_text(encoding="utf-8")))[TRENDS]["charts"])
# What vega draws for data in an SVG chart: a group of role "mark" holding one path (bar, line,
# point) or text per datum. Axes, legends and titles are groups of other roles.
MARKS = "g.role-mark > path, g.role-mark > text"


def marks_per_chart(page) -> dict[str, int]:
    return {slug: page.locator(f"#chart-{slug} svg").locator(MARKS).count() for slug in CHARTS}


@pytest.mark.browser
def test_the_trends_dashboard_draws_every_chart_with_the_network_blocked(chromium, synthetic_server, synthetic_db, tmp_path):
    refused: list[str] = []
    with offline_page(chromium, synthetic_server, refused) as page:
        page.goto(synthetic_server + "/")
        page.locator(f'a[href="{TRENDS_PATH}"]').click()  # linked from the home page
        page.wait_for_url(synthetic_server + TRENDS_PATH)
        page.wait_for_function(
            "([charts, marks]) => charts.every(slug => document.querySelectorAll(`#chart-${slug} svg :is(${marks})`).length > 0)",
            arg=[CHARTS, MARKS],
        )
        drawn = marks_per_chart(page)
        assert all(count > 0 for count in drawn.values()), drawn
        with sqlite3.connect(synthetic_db) as conn:
            years = [year for (year,) in conn.execute("select distinct published_year from papers where published_year is not null order by 1")]
        conn.close()
        bars = page.locator("#chart-papers-per-year svg g.role-mark.mark-rect > path")
        assert bars.count() == len(years) > 5  # one bar per year with papers
        shots = SCREENSHOTS or tmp_path
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "trends.png"), full_page=True)
        assert (shots / "trends.png").stat().st_size > 10_000

        # The year range applies: from 2024 on, one bar per year from 2024.
        page.locator("input#year_from").fill("2024")
        page.locator(".dashboard-filters input[type=submit]").click()
        page.wait_for_url(re.compile(r"year_from=2024"))
        page.wait_for_function(
            "marks => document.querySelectorAll(`#chart-papers-per-year svg :is(${marks})`).length > 0", arg=MARKS
        )
        assert bars.count() == len([year for year in years if year >= 2024]) > 0
    assert refused == []  # the page asked no other host for anything: vega, vega-lite and vega-embed are served here
