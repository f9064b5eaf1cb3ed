"""`papers-db`: the command line around `loader.build`."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
import yaml

from .build import BuildError, build
from .lock import Locked
from .parser import DumpError
from .worker import WorkerDied

DEFAULT_DB = Path("data/papers.db")
DEFAULT_DATA = Path("data")
DEFAULT_MANIFEST = Path("data/dumps.yml")


@click.group()
@click.version_option(package_name="papers-db")
def cli() -> None:
    """Build and maintain the Daily Papers search database."""


@cli.command(name="build")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rebuild", is_flag=True, help="Start from scratch instead of updating the existing database.")
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML of per-dump capture years (default: data/dumps.yml when present).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Run SQLite's integrity_check and FTS5's integrity-check before replacing the database (reads it all).",
)
@click.option("--no-wait", is_flag=True, help="Exit with an error instead of waiting while another build of the database runs.")
def build_command(
    paths: tuple[Path, ...], db_path: Path, rebuild: bool, manifest: Path | None, check: bool, no_wait: bool
) -> None:
    """Load dumps (default: every *.txt under data/) into the database.

    Unchanged dumps are skipped, new ones added and changed ones replaced; the
    database file is replaced atomically only when the whole build succeeded.
    A second build of the same database waits for the first to finish.
    """
    try:
        overrides = read_manifest(manifest if manifest is not None else DEFAULT_MANIFEST, required=manifest is not None)
        dump_paths = list(paths) or [DEFAULT_DATA]
        options = dict(rebuild=rebuild, overrides=overrides, check=check, wait=not no_wait, on_wait=_say_waiting)
        total = sum(p.stat().st_size for p in _txt_files(dump_paths))
        if sys.stderr.isatty() and total > 0:
            with click.progressbar(length=total, label="Loading dumps", file=sys.stderr) as bar:
                summary = build(db_path, dump_paths, progress=bar.update, **options)
        else:
            summary = build(db_path, dump_paths, **options)
    except (DumpError, BuildError, WorkerDied, Locked) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:  # reading the dumps' sizes, before the build
        raise click.ClickException(f"{error.filename}: {error.strerror}") from None
    except sqlite3.DatabaseError as error:
        raise click.ClickException(f"{db_path}: {error}") from None
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(summary.line())


def _say_waiting(message: str) -> None:
    click.echo(message, err=True)


def _txt_files(paths: list[Path]) -> list[Path]:
    return [f for p in paths for f in (sorted(p.rglob("*.txt")) if p.is_dir() else [p])]


def read_manifest(path: Path, required: bool) -> dict[str, int]:
    """Per-dump capture years: `{file name: {capture_year: YEAR}}`."""
    if not path.exists():
        if required:
            raise BuildError(f"{path}: manifest not found")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", -1) + 1
        raise BuildError(f"{path}:{max(line, 1)}: not valid YAML") from None
    if not isinstance(data, dict):
        raise BuildError(f"{path}:1: expected a mapping of dump file names")
    overrides = {}
    for name, entry in data.items():
        year = entry.get("capture_year") if isinstance(entry, dict) else None
        if not isinstance(year, int) or not 1900 <= year <= 2200:
            raise BuildError(f"{path}: {name}: capture_year must be a year such as 2025")
        overrides[str(name)] = year
    return overrides
