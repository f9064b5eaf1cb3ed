"""Shared fixtures: real databases built from real dumps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loader.build import build

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DUMPS = sorted(DATA.glob("*.txt"))


@pytest.fixture(scope="session")
def papers_db(tmp_path_factory) -> Path:
    """A database built once from every dump in data/; tests must not modify it."""
    db = tmp_path_factory.mktemp("built") / "papers.db"
    build(db, DUMPS)
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
