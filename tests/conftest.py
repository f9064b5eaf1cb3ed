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
