"""Shared fixtures: real databases built from real dumps."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest

from loader.build import build

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DUMPS = sorted(DATA.glob("*.txt"))


# Under `make mutation` each mutant runs its tests in a new session. A mutant of a module the build
# does not use gets a copy of the database an unmutated build made; the others build it anew.
BUILD_MODULES = ("loader.parser.", "loader.links.", "loader.capture.")


@pytest.fixture(scope="session")
def papers_db(tmp_path_factory) -> Path:
    """A database built once from every dump in data/; tests must not modify it."""
    db = tmp_path_factory.mktemp("built") / "papers.db"
    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if mutant is None or mutant.startswith(BUILD_MODULES):
        build(db, DUMPS)
        return db
    cached = ROOT / ".papers-db-for-mutants.db"  # inside mutmut's copy of the project
    if not cached.exists():
        build(db, DUMPS)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        shutil.copy(db, partial)
        os.replace(partial, cached)
    else:
        shutil.copy(cached, db)
    return db


def build_listings(tmp_path: Path, texts: list[str], parallel: bool) -> Path:
    """A database built from scratch from dumps with these texts, loaded in this order."""
    folder = tmp_path / "dumps"
    folder.mkdir()
    for number, text in enumerate(texts):
        (folder / f"{number:03d}.txt").write_text(text, encoding="utf-8")
    db = tmp_path / "papers.db"
    build(db, [folder], parallel=parallel)
    return db


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A private copy of data/*.txt that a test may add to or change."""
    folder = tmp_path / "data"
    folder.mkdir()
    for dump in DUMPS:
        shutil.copy(dump, folder / dump.name)
    return folder


@pytest.fixture(scope="session")
def synthetic_db(tmp_path_factory) -> Path:
    """A database of 3,000 synthetic papers over 12 listings (bench/generate.py, seed 0): re-listed
    papers whose upvotes grow, which data/ lacks (no paper of data/ gains upvotes). Tests must not modify it."""
    from bench.generate import generate

    folder = tmp_path_factory.mktemp("synthetic")
    generate(3000, folder / "dumps", dumps=12, seed=0)
    db = folder / "papers.db"
    build(db, [folder / "dumps"])
    return db


if "MUTANT_UNDER_TEST" in os.environ:  # under `make mutation` (docs/testing.md), and only there
    # Datasette loads each file of plugins/ as a module named after the file ("bad_requests.py"),
    # while mutmut switches a mutant on by its module's name ("plugins.bad_requests"): the site
    # would run the plugins unmutated, and no test would be seen to call them. Under mutmut the
    # site gets the package's own modules instead, the same code.
    import datasette.app

    _module_from_path = datasette.app.module_from_path

    def _package_module(path: str, name: str):
        if Path(path).parent == ROOT / "plugins" and name != "__init__.py":
            return importlib.import_module(f"plugins.{Path(path).stem}")
        return _module_from_path(path, name)

    datasette.app.module_from_path = _package_module
