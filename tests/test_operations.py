"""What the people who run the site do to it: builds at once, killed builds, full disks, broken files.

Everything runs as an operator would run it: the real `papers-db` command and
`python -m loader.site` as processes, real files, a real file size limit and,
where the machine allows it (root), a real small tmpfs. Expected counts are
written by hand from the synthetic dumps made here.
"""

from __future__ import annotations

import fcntl
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DUMPS
from tests.test_cli_errors import HEADER, PAPERS_DB, assert_one_line_error, run_cli

PYTHON = sys.executable


def dump_text(day: int, titles: list[str]) -> str:
    """A listing of Jan `day` with one entry per title (no metadata: plain title and abstract)."""
    entries = [f"{title}\n\nAn abstract about {title.lower()}.\n" for title in titles]
    return HEADER.replace("Jan 8", f"Jan {day}") + "\n".join(entries)


def table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
        counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in ("dumps", "papers", "appearances", "repos", "links")}
    conn.close()
    return counts


def integrity(db: Path) -> str:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
        result = conn.execute("pragma integrity_check").fetchone()[0]
    conn.close()
    return result


def leftovers(folder: Path) -> list[str]:
    """What a build may leave only while it runs: work files, claimed standbys, the lock (the standby itself stays)."""
    temporary = (".tmp", ".previous", ".lock", ".standby")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(temporary) and p.name != ".papers.db.standby")


# ----------------------------------------------------------------------------- builds at once


def test_eight_builds_at_once_each_adding_a_dump_lose_nothing(tmp_path: Path) -> None:
    """Each dump i holds two papers of its own and one paper every dump lists (by hand: 8 dumps, 17 papers, 24 appearances)."""
    dumps = []
    for i in range(1, 9):
        dump = tmp_path / f"d{i}.txt"
        dump.write_text(dump_text(i, [f"Own Paper {i} A", f"Own Paper {i} B", "The Paper Every Listing Shows"]), encoding="utf-8")
        dumps.append(dump)
    db = tmp_path / "site" / "papers.db"
    builds = [
        subprocess.Popen([PAPERS_DB, "build", "--db", str(db), str(dump)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for dump in dumps
    ]
    results = [(build.communicate(timeout=120), build.returncode) for build in builds]
    assert [code for _, code in results] == [0] * 8, results
    summaries = sorted(out for (out, _), _ in results)
    # The k-th build to run adds the k-th dump: k dumps, 2k + 1 papers, 3k appearances.
    expected = sorted(
        f"built: {k} dumps (1 loaded, 0 unchanged), {2 * k + 1} papers ({2 if k > 1 else 3} new), {3 * k} appearances, 0 repos"
        for k in range(1, 9)
    )
    assert [summary.rsplit(" in ", 1)[0] for summary in summaries] == expected
    waits = [err for (_, err), _ in results if err]
    assert len(waits) <= 7, "the first build to take the lock waits for no one"
    assert all(err == f"waiting for another build of {db} ({err.split('(')[1].split(')')[0]}) to finish\n" for err in waits), waits
    assert table_counts(db) == {"dumps": 8, "papers": 17, "appearances": 24, "repos": 0, "links": 0}
    with sqlite3.connect(db) as conn:
        titles = {title for (title,) in conn.execute("select title from papers")}
        listed = {name for (name,) in conn.execute("select name from dumps")}
    conn.close()
    assert titles == {f"Own Paper {i} {x}" for i in range(1, 9) for x in "AB"} | {"The Paper Every Listing Shows"}
    assert listed == {f"d{i}.txt" for i in range(1, 9)}
    assert integrity(db) == "ok"
    assert leftovers(db.parent) == []


def hold_lock(db: Path, pid_text: str) -> int:
    """Take the build lock as another build would (flock on papers.db.lock, its pid written in)."""
    descriptor = os.open(db.with_name(db.name + ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.write(descriptor, pid_text.encode())
    return descriptor


def test_a_build_waits_for_the_build_that_holds_the_lock_and_says_so_once(tmp_path: Path) -> None:
    dump = tmp_path / "d1.txt"
    dump.write_text(dump_text(1, ["Waiting Paper"]), encoding="utf-8")
    db = tmp_path / "papers.db"
    descriptor = hold_lock(db, "4242\n")
    try:
        refused = run_cli("build", "--no-wait", "--db", db, dump, cwd=tmp_path)
        assert_one_line_error(refused, f"{db}: another build (process 4242) is running")
        assert not db.exists()
        waiting = subprocess.Popen([PAPERS_DB, "build", "--db", str(db), str(dump)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert waiting.stderr is not None
        said = waiting.stderr.readline()  # blocks until the build says it waits
        assert said == f"waiting for another build of {db} (process 4242) to finish\n"
        assert waiting.poll() is None and not db.exists(), "the build went on while the lock was held"
    finally:
        os.close(descriptor)  # let go, as a finishing build does
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert err == "", "the wait is announced once"
    assert out.startswith("built: 1 dumps (1 loaded, 0 unchanged), 1 papers"), out


def test_a_build_removes_what_killed_builds_left_and_keeps_the_standby(tmp_path: Path) -> None:
    db = tmp_path / "papers.db"
    first = run_cli("build", "--db", db, *DUMPS[:2], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_cli("build", "--db", db, *DUMPS[:3], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    standby = tmp_path / ".papers.db.standby"
    assert standby.exists()
    left = [tmp_path / name for name in (".papers.db.k1ll3d.tmp", ".papers.db.abc123.standby", ".papers.db.xyz789.previous")]
    for path in left:
        path.write_bytes(b"x" * 1000)
    (tmp_path / "papers.db.lock").write_text("999999\n")  # a killed build's lock file, no longer held
    unrelated = tmp_path / ".other.db.abc.tmp"
    unrelated.write_bytes(b"not ours")
    third = run_cli("build", "--db", db, *DUMPS[:4], cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert [path for path in left if path.exists()] == []
    assert not (tmp_path / "papers.db.lock").exists()
    assert unrelated.exists(), "only the database's own leftovers are removed"
    assert standby.exists()


# ----------------------------------------------------------------------------- killed at any moment


def test_builds_killed_at_twenty_random_moments_leave_the_old_or_the_new_database(tmp_path: Path) -> None:
    db = tmp_path / "site" / "papers.db"
    db.parent.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    for dump in DUMPS[:3]:
        shutil.copy(dump, data)
    assert run_cli("build", "--db", db, data, cwd=tmp_path).returncode == 0
    old_file = tmp_path / "old.db"
    shutil.copy(db, old_file)
    old = table_counts(db)
    for dump in DUMPS[3:]:
        shutil.copy(dump, data)
    started = time.monotonic()
    assert run_cli("build", "--db", db, data, cwd=tmp_path).returncode == 0
    duration = time.monotonic() - started
    new = table_counts(db)
    assert old["dumps"] == 3 and new["dumps"] == 5
    moments = random.Random(13).sample(range(1000), 20)
    outcomes = []
    for moment in moments:
        shutil.copy(old_file, db)  # a new inode each time, as a published build makes
        build = subprocess.Popen([PAPERS_DB, "build", "--db", str(db), str(data)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * moment / 1000)
        build.kill()
        build.wait()
        counts = table_counts(db)
        assert counts in (old, new), (moment, counts)
        assert integrity(db) == "ok", moment
        outcomes.append(counts["dumps"])
        following = run_cli("build", "--db", db, data, cwd=tmp_path)
        assert following.returncode == 0, (moment, following.stderr)
        assert table_counts(db) == new
        assert leftovers(db.parent) == [], moment
    assert 3 in outcomes, f"no kill interrupted a build: {outcomes}"


# ----------------------------------------------------------------------------- the machine's failures


def _fsize_limit(limit: int):
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer instead of failing the write
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def run_limited(limit: int, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAPERS_DB, *map(str, args)], cwd=cwd, capture_output=True, encoding="utf-8", timeout=120, preexec_fn=_fsize_limit(limit)
    )


@pytest.mark.parametrize("rebuild", [False, True], ids=["copy-of-the-database", "rebuild-through-sqlite"])
def test_a_file_size_limit_gives_one_line_and_leaves_everything_as_it_was(tmp_path: Path, rebuild: bool) -> None:
    """RLIMIT_FSIZE below the database's size: the copy (or SQLite's writes) fail with EFBIG."""
    db = tmp_path / "papers.db"
    assert run_cli("build", "--db", db, *DUMPS[:4], cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    limit = len(before) // 2
    args = ["build", "--db", db, *DUMPS] + (["--rebuild"] if rebuild else [])
    line = assert_one_line_error(run_limited(limit, *args, cwd=tmp_path), f"{db}: File too large: ")
    assert f"at most {limit / 1e6:,.1f} MB" in line
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing, "a temporary file was left behind"
    retry = run_cli(*args, cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    assert table_counts(db)["dumps"] == 5


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs (needs root: the test suite runs as root on CI, as `.ci/run` does)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("rebuild", [False, True], ids=["copy-of-the-database", "rebuild-through-sqlite"])
def test_a_full_disk_gives_one_line_with_the_room_needed(small_disk: Path, tmp_path: Path, rebuild: bool) -> None:
    db = small_disk / "papers.db"
    assert run_cli("build", "--db", db, *DUMPS[:3], cwd=tmp_path).returncode == 0  # 1.1 MB of the 2 MB
    before = db.read_bytes()
    listing = sorted(p.name for p in small_disk.iterdir())
    args = ["build", "--db", db, *DUMPS[:4]] + (["--rebuild"] if rebuild else [])
    line = assert_one_line_error(run_cli(*args, cwd=tmp_path), f"{db}: No space left on device: the build needs about ")
    assert line.endswith(" MB are free")
    assert db.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == listing
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    retry = run_cli(*args, cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    assert table_counts(db)["dumps"] == 4


def test_a_read_only_file_system_gives_one_line(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "papers.db"
    assert run_cli("build", "--db", db, *DUMPS[:1], cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert_one_line_error(run_cli("build", "--db", db, *DUMPS[:2], cwd=tmp_path), f"{db}.lock: Read-only file system")
    assert db.read_bytes() == before


def test_a_folder_without_write_permission_gives_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    db = folder / "papers.db"
    assert run_cli("build", "--db", db, *DUMPS[:1], cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    os.chmod(folder, 0o555)
    # Root writes anywhere: run it without the capabilities that let it (setpriv, from util-linux).
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        result = subprocess.run(
            [*unprivileged, PAPERS_DB, "build", "--db", str(db), *map(str, DUMPS[:2])], capture_output=True, encoding="utf-8", timeout=120
        )
    finally:
        os.chmod(folder, 0o755)
    assert_one_line_error(result, f"{db}.lock: Permission denied")
    assert db.read_bytes() == before


# ----------------------------------------------------------------------------- broken database files


def _truncated(real: bytes) -> bytes:
    return real[: len(real) // 2]


def _future_schema(real: bytes) -> bytes:
    """A real database whose user_version says a newer papers-db wrote it (written through SQLite, not by hand)."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(real)
    conn.execute("pragma user_version = 99")
    return conn.serialize()


BROKEN = {
    "empty": (lambda real: b"", "an empty file"),
    "truncated": (_truncated, "truncated"),
    "random-bytes": (lambda real: random.Random(7).randbytes(100_000), "not an SQLite database"),
    "text": (lambda real: b"This is a text file, not an SQLite database.\nSecond line.\n", "not an SQLite database"),
    "sqlite-header-only": (lambda real: b"SQLite format 3\x00" + b"\x00" * 84, "not an SQLite database"),
    "future-schema": (_future_schema, "schema version 99"),
}


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("real")
    result = run_cli("build", "--db", folder / "papers.db", *DUMPS, cwd=folder)
    assert result.returncode == 0, result.stderr
    return (folder / "papers.db").read_bytes()


@pytest.mark.parametrize("kind", BROKEN, ids=list(BROKEN))
def test_a_broken_database_file_is_rebuilt_by_the_loader(tmp_path: Path, real_db: bytes, kind: str) -> None:
    make_broken, reason = BROKEN[kind]
    db = tmp_path / "papers.db"
    db.write_bytes(make_broken(real_db))
    result = run_cli("build", "--db", db, *DUMPS, cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    [notice] = result.stderr.splitlines()
    assert notice.startswith(f"warning: {db}: ") and reason in notice and notice.endswith("; rebuilding it from the dumps"), notice
    assert result.stdout.startswith("built: 5 dumps (5 loaded, 0 unchanged), 255 papers (255 new)"), result.stdout
    assert integrity(db) == "ok"


@pytest.mark.parametrize("kind", BROKEN, ids=list(BROKEN))
def test_a_broken_database_file_is_never_served(tmp_path: Path, real_db: bytes, kind: str) -> None:
    make_broken, reason = BROKEN[kind]
    db = tmp_path / "papers.db"
    broken = make_broken(real_db)
    db.write_bytes(broken)
    for extra in ([], ["--no-reload"]):
        result = subprocess.run(
            [PYTHON, "-m", "loader.site", str(db), "--port", "9", *extra], capture_output=True, encoding="utf-8", timeout=60
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"Error: {db}: ") and reason in result.stderr, result.stderr
        assert f"papers-db build --db {db}" in result.stderr
    assert db.read_bytes() == broken
    assert [p.name for p in tmp_path.iterdir()] == ["papers.db"], "no pinned copy left"

