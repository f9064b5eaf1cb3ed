"""A build that parses in child processes writes exactly what a one-process build writes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from bench.generate import generate
from loader.build import build
from loader.parser import DumpError
from loader.records import BATCH_SIZE, DUMPS_PER_SHARE, by_whole_dumps
from loader.worker import WorkerDied, in_worker
from tests.conftest import ROOT
from tests.test_incremental import snapshot


@pytest.fixture(scope="module")
def mixed_dumps(tmp_path_factory):
    """The real dumps, three generated ones of one batch each, and one of three batches."""
    folder = tmp_path_factory.mktemp("mixed")
    for dump in sorted((ROOT / "data").glob("*.txt")):
        shutil.copy(dump, folder / dump.name)
    generate(3000, folder / "small", dumps=3, seed=11)
    (big,) = generate(2 * BATCH_SIZE + 500, folder / "big", dumps=None, seed=12)
    big.rename(folder / "big" / "zz_big.txt")  # a name of its own, apart from the small ones'
    return folder


def test_parallel_build_equals_one_process_build(tmp_path, mixed_dumps):
    assert not by_whole_dumps(len(list(mixed_dumps.rglob("*.txt"))), 2)  # shared batch by batch
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    first = build(one, [mixed_dumps], parallel=False)
    second = build(two, [mixed_dumps], parallel=True)
    assert second.line().split(" in ")[0] == first.line().split(" in ")[0]
    assert snapshot(two) == snapshot(one)
    with sqlite3.connect(two) as conn:  # the big dump's three batches, in listing order
        positions = [row[0] for row in conn.execute("select position from appearances where dump = 'zz_big.txt'")]
    assert sorted(positions) == list(range(1, 2 * BATCH_SIZE + 501))


def test_many_dumps_shared_whole_equal_one_process_build(tmp_path):
    """With enough dumps the children take whole dumps in turn instead of batches."""
    folder = tmp_path / "many"
    dumps = generate(3000, folder, dumps=2 * DUMPS_PER_SHARE + 1, seed=13)
    assert by_whole_dumps(len(dumps), 2)
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    build(one, [folder], parallel=False)
    build(two, [folder], parallel=True)
    assert snapshot(two) == snapshot(one)


def test_parallel_incremental_build_equals_one_process_build(tmp_path, mixed_dumps):
    """Parsing in children is chosen by size, so an incremental build may use it too."""
    small = sorted((mixed_dumps / "small").glob("*.txt"))
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    for db, parallel in ((one, False), (two, True)):
        build(db, small[:1], parallel=False)
        build(db, [mixed_dumps], parallel=parallel)
    assert snapshot(two) == snapshot(one)


def test_a_bad_dump_gives_the_same_error_from_a_child(tmp_path, mixed_dumps):
    folder = tmp_path / "dumps"
    shutil.copytree(mixed_dumps / "small", folder)
    bad = sorted(folder.glob("*.txt"))[1]
    lines = bad.read_bytes().splitlines(keepends=True)
    bad.write_bytes(b"".join(lines[:-1]) + b"\xff\n")  # not UTF-8, on the last line
    errors = []
    for parallel in (False, True):
        with pytest.raises(DumpError) as caught:
            build(tmp_path / "papers.db", [folder], parallel=parallel)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert errors[1].startswith(f"{bad}:{len(lines)}:")
    assert not (tmp_path / "papers.db").exists()
    assert list(tmp_path.glob(".papers.db.*")) == []


def exits_halfway(code: int):
    """A producer that dies without raising, as a child killed by the kernel would."""
    yield 1
    sys.stdout.flush()
    os._exit(code)


def test_a_child_that_dies_is_reported_not_waited_for():
    items = []
    with pytest.raises(WorkerDied, match="exit code 3"):
        for item in in_worker(exits_halfway, 3):
            items.append(item)
    assert items == [1]


def test_the_child_imports_this_checkout_whatever_the_working_directory(tmp_path):
    """`python -m loader.worker` must find this `loader` even when run from elsewhere."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from loader.worker import in_worker; from loader.records import rows_of_dumps;"
        "print(sum(1 for _ in in_worker(rows_of_dumps, [])))"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "0")
