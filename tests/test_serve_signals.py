"""However `make serve` is stopped, no process of the site outlives it and the port is free again.

Each way an operator's tools stop it, ten times over: SIGKILL to the
supervisor (the OOM killer, `kill -9`), SIGTERM to the whole process group
(`timeout`, `kill -- -PGID`, a CI runner or a service manager), and two SIGTERMs
in quick succession to the supervisor (an impatient operator). The server
processes live in their own session, so only their own watch of the
supervisor can stop them after a SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DUMPS, ROOT
from tests.test_cli_errors import run_cli
from tests.test_reload import free_port

ROUNDS = 10
GONE_WITHIN = 2.0  # seconds, as the operators' issue asks


def site_processes(db: Path) -> list[int]:
    """Every process whose command line names the database: make, the supervisor, its servers."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if any(str(db).encode() in part for part in command):
            found.append(int(entry.name))
    return found


def supervisor_of(db: Path) -> int:
    for pid in site_processes(db):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"loader.site" in command and b"--port" in command:
            return pid
    raise AssertionError("no supervisor found")


def port_refuses(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def start_make_serve(db: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"DB={db}", f"PORT={port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal or a service manager gives it
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=5) as response:
                if response.status == 200:
                    return make
        except OSError:
            time.sleep(0.05)
    make.kill()
    pytest.fail(log.read_text())


def two_sigterms(make: subprocess.Popen, supervisor: int, round: int) -> None:
    """The second one lands while the first is being handled: 0 to 0.45 s later, by round."""
    os.kill(supervisor, signal.SIGTERM)
    time.sleep(0.05 * round)
    os.kill(supervisor, signal.SIGTERM)


STOPS = {
    "sigkill-to-the-supervisor": lambda make, supervisor, round: os.kill(supervisor, signal.SIGKILL),
    "sigterm-to-the-group": lambda make, supervisor, round: os.killpg(make.pid, signal.SIGTERM),
    "two-sigterms-to-the-supervisor": two_sigterms,
}


@pytest.fixture(scope="module")
def served_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("serve-signals") / "papers.db"
    assert run_cli("build", "--db", db, *DUMPS, cwd=db.parent).returncode == 0
    return db


@pytest.mark.parametrize("stop", STOPS, ids=list(STOPS))
def test_nothing_outlives_make_serve(served_db: Path, tmp_path: Path, stop: str) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    for round in range(ROUNDS):
        make = start_make_serve(served_db, port, log)
        supervisor = supervisor_of(served_db)
        assert len(site_processes(served_db)) == 3, "make, the supervisor and one server"
        started = time.monotonic()
        STOPS[stop](make, supervisor, round)
        deadline = started + GONE_WITHIN
        while site_processes(served_db) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = site_processes(served_db)
        for pid in left:  # leave nothing for the next round either way
            os.kill(pid, signal.SIGKILL)
        assert left == [], f"round {round}: still running {GONE_WITHIN} s after the stop: {left}"
        assert port_refuses(port), f"round {round}: the port still answers"
        make.wait(timeout=10)
    assert not list(served_db.parent.glob(".papers.db.serving-*")), "pinned copies left"
    assert "Traceback" not in log.read_text()


def test_make_serve_rebuilds_an_empty_database_file(tmp_path: Path) -> None:
    """`sqlite3 data/papers.db` typed before the first build leaves 0 bytes, newer than every dump."""
    db = tmp_path / "papers.db"
    db.write_bytes(b"")
    port = free_port()
    log = tmp_path / "serve.log"
    make = start_make_serve(db, port, log)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/papers/papers.json?_size=1", timeout=30) as response:
            assert json.load(response)["filtered_table_rows_count"] == 255  # every paper of data/'s five dumps
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
    assert f"warning: {db}: an empty file, not a papers database; rebuilding it from the dumps" in log.read_text()
