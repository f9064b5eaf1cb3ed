"""Capture years set by hand in data/dumps.yml (or --manifest)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

PAPERS_DB = [str(Path(sys.executable).parent / "papers-db"), "build"]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*PAPERS_DB, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def captures(db: Path) -> dict[str, tuple]:
    rows = sqlite3.connect(db).execute("select name, capture_year, capture_source, capture_date from dumps")
    return {name: rest for name, *rest in rows}


def test_manifest_in_the_data_folder_overrides_and_pins(tmp_path, data_copy):
    (data_copy / "dumps.yml").write_text("001_aac3630fa6cd08cf.txt:\n  capture_year: 2025\n")
    result = run("--db", tmp_path / "papers.db", "--manifest", data_copy / "dumps.yml", data_copy, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = captures(tmp_path / "papers.db")
    assert found["001_aac3630fa6cd08cf.txt"] == [2025, "manifest", "2025-03-11"]
    assert found["004_fa38fd4572169ea6.txt"] == [None, "unknown", None]  # untouched by the manifest
    # Papers only on the overridden listing now have no date (it printed none), but first_seen is known.
    conn = sqlite3.connect(tmp_path / "papers.db")
    [(seen,)] = conn.execute(
        "select first_seen from papers where title like 'TabPFN: A Transformer That Solves%'"
    ).fetchall()
    assert seen == "2025-03-11"


def test_default_manifest_is_read_from_data(tmp_path, data_copy):
    """Run from a folder holding data/, as `make serve` does: data/dumps.yml is picked up."""
    project = tmp_path / "project"
    project.mkdir()
    data_copy.rename(project / "data")
    (project / "data" / "dumps.yml").write_text("004_fa38fd4572169ea6.txt: {capture_year: 2024}\n")
    assert run(cwd=project).returncode == 0
    assert captures(project / "data" / "papers.db")["004_fa38fd4572169ea6.txt"] == [2024, "manifest", "2024-04-03"]


def test_changing_the_manifest_alone_rebuilds(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    manifest = tmp_path / "dumps.yml"
    manifest.write_text("{}\n")
    assert run("--db", db, "--manifest", manifest, data_copy, cwd=tmp_path).returncode == 0
    manifest.write_text("004_fa38fd4572169ea6.txt: {capture_year: 2024}\n")
    result = run("--db", db, "--manifest", manifest, data_copy, cwd=tmp_path)
    assert result.stdout.startswith("built:"), result.stdout
    assert captures(db)["004_fa38fd4572169ea6.txt"][:2] == [2024, "manifest"]


def test_bad_manifests_are_one_line_errors(tmp_path, data_copy):
    db = tmp_path / "papers.db"
    cases = {
        "year text": ("a.txt: {capture_year: soon}\n", "capture_year must be a year"),
        "not yaml": ("a.txt: [unclosed\n", "not valid YAML"),
        "a list": ("- a.txt\n", "expected a mapping"),
    }
    for name, (text, words) in cases.items():
        manifest = tmp_path / f"{name}.yml"
        manifest.write_text(text)
        result = run("--db", db, "--manifest", manifest, data_copy, cwd=tmp_path)
        assert result.returncode == 1, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {manifest}") and words in lines[0], (name, lines)
        assert not db.exists()
    missing = run("--db", db, "--manifest", tmp_path / "nope.yml", data_copy, cwd=tmp_path)
    assert missing.returncode == 1 and "manifest not found" in missing.stderr
