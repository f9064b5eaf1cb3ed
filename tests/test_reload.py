"""Rebuilding while serving: readers hammering the real server see no errors and never a mix.

The server is `make serve`'s command (`loader.site.serve_command`: the
supervisor and its server processes) on a free loopback port. Reader threads
fetch pages on fresh connections while the database is rebuilt with two more
dumps. Every answer must be a 200 that is wholly the old version or wholly the
new one, each reader must never see the old version again once it saw the new
one, and the new version must be served within a few seconds.
"""

from __future__ import annotations

import json
import select
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loader.build import build
from loader.parser import DumpError
from loader.site import serve_command

READERS = 6
OLD_DUMPS, NEW_DUMPS = 3, 5
# Each dump's entries, counted by hand from data/ (as in test_site.py): the old version is the first three.
ENTRIES = {
    "000_cb7cd7af2323319e.txt": 41,
    "001_aac3630fa6cd08cf.txt": 84,
    "002_073c856badb15984.txt": 75,
    "003_d70b61c28a3beeab.txt": 95,
    "004_fa38fd4572169ea6.txt": 60,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def version_seen(base: str, kind: str) -> int:
    """How many dumps the answer shows; raises if the answer is not whole and consistent."""
    if kind == "dumps":  # the listing of the old version or of the new one, whole, and nothing between
        status, body = fetch(base + "/papers/dumps.json?_shape=array")
        assert status == 200, (status, body[:200])
        listed = {row["name"]: row["entry_count"] for row in json.loads(body)}
        versions = {OLD_DUMPS: dict(list(ENTRIES.items())[:OLD_DUMPS]), NEW_DUMPS: ENTRIES}
        matching = [dumps for dumps, entries in versions.items() if entries == listed]
        assert matching, f"a listing of neither version: {listed}"
        return matching[0]
    if kind == "table":  # several queries in one page: count, facets and rows must agree
        status, body = fetch(base + "/papers/papers.json?_facet=appearances&_facet=has_code&_size=5")
        assert status == 200, (status, body[:200])
        data = json.loads(body)
        count = data["filtered_table_rows_count"]
        for facet in ("appearances", "has_code"):
            assert sum(item["count"] for item in data["facet_results"][facet]["results"]) == count, facet
        return {164: OLD_DUMPS, 255: NEW_DUMPS}[count]
    status, body = fetch(base + "/papers.db")  # the download must be the version the queries show
    assert status == 200, status
    return _dumps_in(body)


def _dumps_in(data: bytes) -> int:
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    [(dumps,)] = conn.execute("select count(*) from dumps")
    [(papers,)] = conn.execute("select count(*) from papers")
    assert {OLD_DUMPS: 164, NEW_DUMPS: 255}[dumps] == papers
    return dumps


@pytest.fixture(params=[True], ids=["supervised"])
def served(request, tmp_path, data_copy):
    """A server over a database of the first three dumps; the other two wait beside it."""
    reload = request.param
    held = tmp_path / "held"
    held.mkdir()
    for dump in sorted(data_copy.glob("*.txt"))[OLD_DUMPS:]:
        shutil.move(dump, held / dump.name)
    db = tmp_path / "site" / "papers.db"
    db.parent.mkdir()
    build(db, [data_copy])
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(serve_command(db, "127.0.0.1", port, reload=reload), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if fetch(base + "/-/versions.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(log.read_text())
        yield base, db, data_copy, held, log
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert not list(db.parent.glob(".papers.db.serving-*")), "server processes left their pinned copies"


def test_readers_see_no_errors_and_no_mix_during_a_rebuild(served):
    base, db, data, held, log = served
    observations: dict[int, list[int]] = {reader: [] for reader in range(READERS)}
    failures: list[str] = []
    stop = threading.Event()

    def read(reader: int) -> None:
        kind = ("dumps", "table", "download")[reader % 3]
        while not stop.is_set():
            try:
                observations[reader].append(version_seen(base, kind))
            except Exception as error:  # noqa: BLE001 - every failure is reported below
                failures.append(f"{kind}: {error!r}")

    threads = [threading.Thread(target=read, args=(reader,)) for reader in range(READERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        for dump in held.iterdir():
            shutil.move(dump, data / dump.name)
        build(db, [data])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(seen and seen[-1] == NEW_DUMPS for seen in observations.values()):
            time.sleep(0.2)
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures, failures[:5]
    for reader, seen in observations.items():
        assert seen[0] == OLD_DUMPS and seen[-1] == NEW_DUMPS, (reader, seen)
        switch = seen.index(NEW_DUMPS)
        assert set(seen[:switch]) == {OLD_DUMPS}, f"reader {reader} saw something else before the new version: {seen}"
        assert set(seen[switch:]) == {NEW_DUMPS}, f"reader {reader} saw the old version after the new: {seen}"
    assert "reloaded" in log.read_text()


def test_a_failed_rebuild_keeps_serving_the_old_version(served):
    base, db, data, held, log = served
    before = db.read_bytes()
    (data / "zz_broken.txt").write_bytes(b"\x00binary")
    with pytest.raises(DumpError, match=r"zz_broken\.txt:1: binary data"):
        build(db, [data])
    assert db.read_bytes() == before
    time.sleep(2.5)  # two polls of the supervisor
    assert version_seen(base, "dumps") == OLD_DUMPS
    assert "reloaded" not in log.read_text()


@pytest.mark.parametrize("served", [False], ids=["one process"], indirect=True)
def test_a_server_process_keeps_serving_the_version_it_opened(served):
    """Without the supervisor nothing reloads, and nothing mixes either: threads that open their
    connection after the rebuild, and the download, still read the version the process pinned."""
    base, db, data, held, log = served
    for dump in held.iterdir():
        shutil.move(dump, data / dump.name)
    build(db, [data])
    assert _dumps_in(db.read_bytes()) == NEW_DUMPS
    answers = []
    threads = [threading.Thread(target=lambda kind=kind: answers.append(version_seen(base, kind)))
               for kind in ("table", "dumps", "download") * 4]  # more threads than Datasette's three
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [OLD_DUMPS] * len(threads)


async def test_connections_to_the_listener_get_tcp_nodelay():
    """Without TCP_NODELAY every small response waited for the client's delayed ACK: 40 ms a request.

    asyncio sets it only on connections of a listener whose `proto` is TCP, which
    `socket.create_server` does not set; `loader.site.listen` does.
    """
    import asyncio

    from loader.site import listen

    accepted = asyncio.get_running_loop().create_future()

    def connected(reader, writer):
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listener = listen("127.0.0.1", 0)
    server = await asyncio.start_server(connected, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        assert await asyncio.wait_for(accepted, 5) == 1
        writer.close()
    finally:
        server.close()


def test_a_reload_closes_the_idle_keep_alive_connections_of_the_old_process(served):
    """docs/security.md, "Not defended here": a client that keeps a connection open across a reload
    and does not retry sees one connection error; a new connection reads the new version."""
    import http.client

    base, db, data, held, log = served
    port = int(base.rsplit(":", 1)[1])
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    kept.request("GET", "/papers/dumps.json?_shape=array")
    first = kept.getresponse()
    assert first.status == 200 and len(json.loads(first.read())) == OLD_DUMPS
    for dump in held.iterdir():
        shutil.move(dump, data / dump.name)
    build(db, [data])
    deadline = time.monotonic() + 30
    while version_seen(base, "dumps") != NEW_DUMPS:  # each on a new connection
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    # The old process, handing over, closes the connection it kept idle: the client reads an end of file.
    readable, _, _ = select.select([kept.sock], [], [], 30)
    assert readable and kept.sock.recv(1, socket.MSG_PEEK) == b""
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        kept.request("GET", "/papers/dumps.json?_shape=array")
        kept.getresponse().read()
    kept.close()
    assert version_seen(base, "dumps") == NEW_DUMPS  # a new connection reads the new version


def facet_counts_report(base: str) -> dict:
    status, body = fetch(base + "/-/facet-counts.json")
    assert status == 200, body[:200]
    return json.loads(body)


def wait_for_counted_facets(base: str, expected: int) -> dict:
    """The server process's report once it holds `expected` counts (it counts them as it starts serving)."""
    for _ in range(300):
        counted = facet_counts_report(base)
        if counted["entries"] >= expected:
            return counted
        time.sleep(0.1)
    pytest.fail(f"the default facets were not counted: {counted}")


def test_each_version_is_served_with_its_default_facets_already_counted(served):
    base, db, data, held, _ = served
    # The default facets in metadata.yml: papers 4, repos 2, links 2, appearances 1.
    facets = 9
    for papers in (164, 255):  # the first three dumps, then all five
        counted = wait_for_counted_facets(base, facets)
        assert (counted["entries"], counted["misses"], counted["hits"]) == (facets, facets, 0)  # before anyone asked
        status, body = fetch(base + "/papers/papers.json?_size=1")
        assert status == 200
        shown = json.loads(body)["facet_results"]["has_code"]["results"]
        assert sum(item["count"] for item in shown) == papers
        assert facet_counts_report(base)["hits"] == 4  # the page's four counts were all there
        if papers == 164:
            for dump in held.iterdir():
                shutil.move(dump, data / dump.name)
            build(db, [data])
            for _ in range(300):  # until the new version's process serves
                if version_seen(base, "dumps") == NEW_DUMPS:
                    break
                time.sleep(0.1)
