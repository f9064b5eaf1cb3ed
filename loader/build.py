"""Records -> database: load parsed dumps into SQLite, atomically and incrementally.

A build never writes to the live database file. It works on a file beside
it (the generation the previous build replaced, brought up to date; else a
copy; a fresh file for `--rebuild`), fsyncs it and renames it over the
original, so a failure at any point leaves the old file as it was and a
server reading the old file never sees half a build.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import resource
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import sqlite_utils

from .capture import Capture, Evidence, infer_capture_years
from .counts import store_counts, stored_counts, track_counts
from .derive import HAS_CODE, PUBLISHED_YEAR, derive_papers
from .health import unusable
from .lock import OnWait, build_lock
from .parser import Page, parse_month_day, quoted
from .records import PAPER_ROW, DumpDone, Rows, interleave
from . import summaries
from .related import refresh_word_rarity, track_sample
from .schema import (
    APPEARANCES,
    CODE_TOKEN,
    FILTERS_SINCE,
    FTS_TABLES,
    LINKS,
    PAGE_SIZE,
    PAPER_VECTORS,
    SCHEMA_VERSION,
    SUMMARIES_SINCE,
    VECTORS_SINCE,
    YEAR_TOKEN,
    create_fts_triggers,
    create_indexes,
    create_schema,
    drop_fts_triggers,
    rebuild_fts,
    schema_version,
)
from .staging import LastStaged, StagedPapers
from .vectors import SortedIds, drop_vectors, fill_missing_vectors, outdated_by, rows_with_vectors, write_vectors
from .worker import in_worker

Progress = Callable[[int], None]
# Below this much dump text, starting a second process for parsing costs more than it saves.
PARALLEL_BYTES = 8 << 20
# Child processes that compute rows while this one writes: on 2 cores, two
# parsers and the writer keep both busy (the writer needs a third of the time).
PARSERS = 2
# SQLite's page cache for a build, in KiB, while the parsers run: for an incremental build, enough
# for the inner pages of every b-tree at a million papers (about 20 MB), so rows arriving in id
# (= hash) order do not read them again and again; for a build from scratch, which appends (papers
# to their staging tables, appearances in listing order) and writes only repositories and links on
# random pages, little (at a million papers 16 MB cost no time against 64; with the parsers' smaller
# word caches, the build's peak fell from 502 to 429 MB, docs/benchmarks.md). Then more, for the
# indexes and the full-text index made from the tables (the parsers' memory is free by then).
LOAD_CACHE_KB = 64 << 10
BULK_LOAD_CACHE_KB = 16 << 10
CACHE_KB = 128 << 10


class BuildError(Exception):
    """A build that cannot go on for a reason the user can fix; the message is one line."""


@dataclass
class DumpFile:
    path: Path
    sha256: str
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Plan:
    """Which dumps a build must load, decided by comparing content hashes."""

    new: list[DumpFile] = field(default_factory=list)
    changed: list[DumpFile] = field(default_factory=list)
    unchanged: list[DumpFile] = field(default_factory=list)

    @property
    def to_load(self) -> list[DumpFile]:
        return self.new + self.changed


@dataclass
class Summary:
    dumps_loaded: int = 0
    dumps_unchanged: int = 0
    dumps_total: int = 0
    papers: int = 0
    new_papers: int = 0
    appearances: int = 0
    repos: int = 0
    seconds: float = 0.0
    written: bool = False
    warnings: list[str] = field(default_factory=list)  # odd but loadable input, one line each

    def line(self) -> str:
        state = "built" if self.written else "up to date"
        return (
            f"{state}: {self.dumps_total} dumps ({self.dumps_loaded} loaded, {self.dumps_unchanged} unchanged), "
            f"{self.papers} papers ({self.new_papers} new), {self.appearances} appearances, "
            f"{self.repos} repos in {self.seconds:.2f}s"
        )


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a database remembers of a dump file it loaded."""

    sha256: str
    size: int | None
    mtime_ns: int | None
    loaded_at: str


def recorded_dumps(db_path: Path) -> dict[str, Recorded]:
    """The dumps table of an existing database, by file name."""
    with closing(_read_only(db_path)) as conn:
        cursor = conn.execute("select * from dumps")
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row)) for row in cursor]
    return {
        row["name"]: Recorded(row["sha256"], row.get("size"), row.get("mtime_ns"), row["loaded_at"]) for row in rows
    }


def find_dumps(paths: Iterable[Path], recorded: dict[str, Recorded]) -> list[DumpFile]:
    """Dump files named directly or found as `*.txt` under named folders, sorted by name.

    A file whose size and modification time are those recorded keeps its
    recorded hash: hashing every dump again would read them all (2 GB at a
    million papers) to add one.
    """
    files: dict[str, Path] = {}
    for path in paths:
        candidates = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.name in files and files[candidate.name].resolve() != candidate.resolve():
                raise BuildError(f"two dumps share the name {candidate.name}: {files[candidate.name]} and {candidate}")
            files[candidate.name] = candidate
    return [_dump_file(path, recorded.get(name)) for name, path in sorted(files.items())]


def _dump_file(path: Path, recorded: Recorded | None) -> DumpFile:
    stat = path.stat()
    same = recorded is not None and (recorded.size, recorded.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    sha256 = recorded.sha256 if same and recorded else hash_file(path)
    return DumpFile(path, sha256, stat.st_size, stat.st_mtime_ns)


def plan_build(recorded: dict[str, Recorded], dumps: list[DumpFile]) -> Plan:
    """Compare dump hashes with what the existing database recorded."""
    plan = Plan()
    for dump in dumps:
        if dump.name not in recorded:
            plan.new.append(dump)
        elif recorded[dump.name].sha256 != dump.sha256:
            plan.changed.append(dump)
        else:
            plan.unchanged.append(dump)
    return plan


def _read_only(db_path: Path) -> sqlite3.Connection:
    """The existing database, opened read-only; a clear error if it is not one of ours."""
    connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.execute("select 1 from dumps limit 1")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise BuildError(f"{db_path}: not a papers database ({error}); use --rebuild to start afresh") from None
    return connection


def build(
    db_path: Path,
    dump_paths: Iterable[Path],
    *,
    rebuild: bool = False,
    overrides: dict[str, int] | None = None,
    progress: Progress | None = None,
    parallel: bool | None = None,
    check: bool = False,
    wait: bool = True,
    on_wait: OnWait | None = None,
    vectors: bool = True,
) -> Summary:
    """Bring `db_path` up to date with the dumps; see the module docstring for the guarantees.

    `parallel` parses in a second process while this one writes; by default
    only when there are at least `PARALLEL_BYTES` of dumps to load. `check`
    runs SQLite's and FTS5's integrity checks before the file is published.
    One build at a time: another build of the same file is waited for (`on_wait`
    hears once whom for), or with `wait=False` refused (`loader.lock.Locked`).
    `vectors=False` embeds nothing (a stored vector whose text changes is still dropped): how
    bench/scale.py measures a build less its embedding.
    """
    with _one_line_os_errors(db_path), build_lock(db_path, wait=wait, on_wait=on_wait):
        started = time.perf_counter()  # a build's time, not the time it waited for another
        remove_leftovers(db_path)
        summary = _build_locked(db_path, dump_paths, rebuild, overrides or {}, progress, parallel, check, vectors)
    summary.seconds = time.perf_counter() - started
    return summary


def _build_locked(
    db_path: Path,
    dump_paths: Iterable[Path],
    rebuild: bool,
    overrides: dict[str, int],
    progress: Progress | None,
    parallel: bool | None,
    check: bool,
    vectors: bool,
) -> Summary:
    """The build, once it holds the lock: it plans against the database as it is now."""
    notices = []
    problem = unusable(db_path) if db_path.exists() and not rebuild else None
    if problem is not None and not problem.ours:
        raise BuildError(f"{db_path}: {problem.reason}; use --rebuild to replace it")
    if problem is not None:
        notices.append(f"{db_path}: {problem.reason}; rebuilding it from the dumps")
        rebuild = True
    recorded = recorded_dumps(db_path) if db_path.exists() and not rebuild else {}
    dumps = find_dumps(dump_paths, recorded)
    plan = plan_build(recorded, dumps)
    if not plan.to_load and not rebuild and db_path.exists() and _is_current(db_path, overrides):
        with closing(_read_only(db_path)) as conn:
            return _summarise(sqlite_utils.Database(conn), plan, 0)
    bulk = rebuild or not db_path.exists()
    papers_before = 0 if bulk else _papers_in(db_path)
    needed = _room_needed(db_path, plan, bulk)
    with _one_line_os_errors(db_path, needed), _replacement(db_path, dumps, recorded, fresh=bulk) as work_path:
        # A standby generation may lack more than the published file does.
        work_plan = plan if bulk else plan_build(recorded_dumps(work_path), dumps)
        db = sqlite_utils.Database(work_path)
        db.execute(f"pragma page_size = {PAGE_SIZE}")  # a new file only: before its first table
        db.execute("pragma journal_mode = off")  # the work file is thrown away on failure
        db.execute("pragma synchronous = off")  # and fsynced once, at the end
        # This SQLite zeroes every page a build frees (the staging tables, FTS5's merged segments):
        # writes for nothing, as the file's content is public and rewritten whole by a rebuild.
        db.execute("pragma secure_delete = off")
        db.execute(f"pragma cache_size = -{BULK_LOAD_CACHE_KB if bulk else LOAD_CACHE_KB}")
        version = schema_version(db.conn)
        create_schema(db, indexes=not bulk)
        if 0 < version < 3:  # made before dumps.max_explicit_year was stored
            _fill_max_explicit_years(db)
        # Every paper's derived columns and FTS row made afresh: from scratch, or for an index
        # that lacked the search filters' tokens.
        reindex = bulk or 0 < version < FILTERS_SINCE
        # Every paper's derived columns made afresh, and the dumps' counts of papers with them and
        # the summary tables.
        refresh_all = reindex or 0 < version < SUMMARIES_SINCE
        with db.conn:
            _start_touch_tracking(db.conn)
            sampled_before = track_sample(db.conn)
            if reindex:
                drop_fts_triggers(db)
            if not bulk:
                track_counts(db.conn)
            if parallel is None:
                parallel = sum(dump.size for dump in work_plan.to_load) >= PARALLEL_BYTES
            # A load into an empty database touches every paper: no need to list them.
            touched, unembedded, staged = _load_dumps(db, work_plan, progress, parallel, bulk, db_path, vectors)
            db.execute(f"pragma cache_size = -{CACHE_KB}")
            if bulk:
                create_indexes(db, (APPEARANCES, LINKS))  # what refreshing the papers looks up
            touched |= _update_captures(db, overrides, track=not bulk)
            _refresh_papers(db, touched, every_paper=refresh_all, staged=staged)
            # Vectors the parsers did not make (see loader/vectors.py): among the papers this load
            # wrote, or every paper's for a database made before vectors.
            if vectors:
                fill_missing_vectors(db.conn, None if 0 < version < VECTORS_SINCE else touched | unembedded)
            warnings = {dump.name: _repeats(db, dump) for dump in work_plan.to_load}
            if reindex:  # once the search filters are derived
                rebuild_fts(db)
                create_fts_triggers(db)
            if bulk:
                create_indexes(db)  # the rest, once the papers' derived columns are written
            counts = store_counts(db.conn)
            refresh_word_rarity(db.conn, counts["papers"], sampled_before)
            _record_files(db, dumps, recorded)
        if check:
            _check(db)
        summary = _summarise(db, plan, papers_before)
        summary.warnings = notices + [warning for dump in plan.to_load for warning in warnings.get(dump.name, [])]
        db.close()
    summary.written = True
    return summary


def _papers_in(db_path: Path) -> int:
    """How many papers the published file holds, as the build that wrote it stored (or counted, if it did not)."""
    with closing(_read_only(db_path)) as conn:
        known = stored_counts(conn).get("papers")
        return known if known is not None else conn.execute("select count(*) from papers").fetchone()[0]


def standby_path(db_path: Path) -> Path:
    """Where the previous generation of the database waits to become the next one."""
    return db_path.with_name(f".{db_path.name}.standby")


class _replacement:
    """A work file beside the database that replaces it on success and vanishes on failure.

    The work file starts empty for a fresh build. Otherwise it starts as the
    standby, the generation the last build replaced, when that is safe to
    write (see `_claim_standby`): bringing it up to date costs what the new
    dumps cost. Failing that it starts as a copy of the database, which costs
    a read and a write of the whole file (40 s at a million papers). On
    success the replaced database becomes the next standby.
    """

    def __init__(self, db_path: Path, dumps: list[DumpFile], recorded: dict[str, Recorded], fresh: bool):
        self.db_path = db_path
        self.dumps = dumps
        self.recorded = recorded  # the database's dumps table, as the build read it
        self.fresh = fresh
        self.work_path: Path | None = None

    def __enter__(self) -> Path:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{self.db_path.name}.", suffix=".tmp", dir=self.db_path.parent)
        os.close(handle)
        self.work_path = Path(name)
        try:
            if self.db_path.exists() and not self.fresh and not self._claim_standby():
                shutil.copyfile(self.db_path, self.work_path)
            os.chmod(self.work_path, 0o644)  # mkstemp makes it private; the database is meant to be read and served
            if self.db_path.exists():
                shutil.copymode(self.db_path, self.work_path)
        except BaseException:  # a full disk during the copy: __exit__ is not called for a failed __enter__
            self.work_path.unlink(missing_ok=True)
            raise
        return self.work_path

    def _claim_standby(self) -> bool:
        """Move the standby to the work path if no one reads it and it is behind the database.

        It is renamed before it is looked at, so no other build can claim it
        too. A server pins the file it serves with a hard link (`loader.site`),
        and any other process that still has it open is found in /proc; a file
        in use is left to its readers. "Behind" means every dump it holds is
        in the database, and every dump it lacks is among the files given.
        """
        assert self.work_path is not None
        claimed = self.work_path.with_suffix(".standby")
        try:
            os.replace(standby_path(self.db_path), claimed)
        except FileNotFoundError:
            return False
        if os.stat(claimed).st_nlink == 1 and not open_elsewhere(claimed) and self._behind(claimed):
            os.replace(claimed, self.work_path)
            return True
        claimed.unlink()  # only the name: a reader holding the file keeps it
        return False

    def _behind(self, standby: Path) -> bool:
        try:
            have = recorded_dumps(standby)
        except (BuildError, sqlite3.DatabaseError):
            return False
        published = self.recorded
        files = {(dump.name, dump.sha256) for dump in self.dumps}
        missing = [(name, known.sha256) for name, known in published.items() if have.get(name) != known]
        return have.keys() <= published.keys() and all(dump in files for dump in missing)

    def __exit__(self, kind, error, traceback) -> None:
        assert self.work_path is not None
        if error is not None:
            self.work_path.unlink(missing_ok=True)
            return
        with open(self.work_path, "rb+") as stream:
            os.fsync(stream.fileno())
        keep = self._link_previous_generation()
        os.replace(self.work_path, self.db_path)
        if keep is not None:
            os.replace(keep, standby_path(self.db_path))
        directory = os.open(self.db_path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _link_previous_generation(self) -> Path | None:
        """A second name for the database about to be replaced, to become the standby."""
        if not self.db_path.exists():
            return None
        assert self.work_path is not None
        keep = self.work_path.with_suffix(".previous")
        try:
            os.link(self.db_path, keep)
        except OSError:  # a file system without hard links: no standby, the next build copies
            return None
        return keep


# What a build leaves beside the database while it runs (`_replacement`): its work file, a
# standby it claimed, the replaced generation on its way to become the standby.
LEFTOVER_SUFFIXES = (".tmp", ".standby", ".previous")


def remove_leftovers(db_path: Path) -> None:
    """Remove what builds that were killed left beside the database; only safe under the build lock."""
    for path in db_path.parent.glob(f".{glob.escape(db_path.name)}.*"):
        if path.suffix in LEFTOVER_SUFFIXES and path != standby_path(db_path) and path.is_file():
            path.unlink(missing_ok=True)  # only the name: a server still reading a claimed standby keeps it


# Room a build needs beside the database, per byte of dump text it loads: the database of
# the real dumps and of a million synthetic papers takes 2.4-2.8 bytes per byte of dump.
ROOM_PER_DUMP_BYTE = 3


def _room_needed(db_path: Path, plan: Plan, fresh: bool) -> int:
    """Bytes a build writes beside the database: a copy of it (unless fresh) and what the new dumps add."""
    copy = 0 if fresh else db_path.stat().st_size
    return copy + ROOM_PER_DUMP_BYTE * sum(dump.size for dump in plan.to_load)


@contextmanager
def _one_line_os_errors(db_path: Path, needed: int | None = None) -> Iterator[None]:
    """The machine's failures (a full disk, a file size limit, no permission, a read-only or failing disk) as one line."""
    try:
        yield
    except OSError as error:
        raise BuildError(_os_error_line(error, db_path, needed)) from None
    except sqlite3.OperationalError as error:
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code == SQLITE_FULL:
            raise BuildError(_os_error_line(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), db_path, needed)) from None
        if code == SQLITE_IOERR:  # SQLite does not say which error: a file size limit is the one a process can see
            cause = errno.EFBIG if _file_size_limit() is not None else errno.EIO
            raise BuildError(_os_error_line(OSError(cause, os.strerror(cause)), db_path, needed)) from None
        raise


SQLITE_IOERR, SQLITE_FULL = 10, 13  # primary result codes


def _os_error_line(error: OSError, db_path: Path, needed: int | None) -> str:
    """`<path>: <what happened>`, naming the database rather than a build's own work file."""
    named = Path(error.filename) if isinstance(error.filename, (str, bytes, os.PathLike)) else None
    ours = named is None or (named.parent.resolve() == db_path.parent.resolve() and named.name.startswith(f".{db_path.name}."))
    path = db_path if ours else named
    what = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT) and needed is not None:
        free = shutil.disk_usage(db_path.parent).free
        return f"{path}: {what}: the build needs about {_mb(needed)} beside the database, and {_mb(free)} are free"
    limit = _file_size_limit()
    if error.errno == errno.EFBIG and limit is not None:
        return f"{path}: {what}: this process may write files of at most {_mb(limit)} (ulimit -f)" + (
            f", and the build writes about {_mb(needed)}" if needed is not None else ""
        )
    return f"{path}: {what}"


def _file_size_limit() -> int | None:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if limit == resource.RLIM_INFINITY else limit


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def open_elsewhere(path: Path) -> bool:
    """Whether a process on this machine has the file open; True when /proc cannot tell."""
    target = os.stat(path)
    if not Path("/proc/self/fd").is_dir():
        return True
    for descriptor in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            found = os.stat(descriptor)
        except OSError:  # gone, or another user's
            continue
        if (found.st_dev, found.st_ino) == (target.st_dev, target.st_ino):
            return True
    return False


def _load_dumps(
    db: sqlite_utils.Database, plan: Plan, progress: Progress | None, parallel: bool, bulk: bool, published: Path, embed: bool
) -> tuple[set[int], set[int], LastStaged | None]:
    """Stream each new or changed dump into the tables.

    Returns the ids of papers touched (not tracked in a `bulk` load), of papers whose vector is
    outdated or missing, and, from a `bulk` load, its staged papers (`loader.staging`): their ids
    and the staged rows of their last listings, which `_refresh_papers` writes. Not `bulk`, the
    papers `published` holds unchanged with their vectors are not embedded again; not `embed`,
    none is.
    """
    unembedded: set[int] = set()
    touched: set[int] = set()
    for dump in plan.changed:
        touched |= {row[0] for row in db.execute("select paper_id from appearances where dump = ?", [dump.name])}
        db.execute("delete from appearances where dump = ?", [dump.name])
    dumps = {dump.name: dump for dump in plan.to_load}
    sources = [(dump.path, dump.name) for dump in plan.to_load]
    done = 0
    rows = _rows(sources, parallel, None if bulk else published, embed)
    staged = StagedPapers(db.conn, embed, sum(dump.size for dump in plan.to_load)) if bulk else None
    linked = SortedIds() if bulk else None  # the papers a bulk load gave links, all it has
    with closing(rows) as parts:
        for name, part in parts:
            if isinstance(part, Rows):
                ids, outdated = _write_rows(db, part, staged, linked)
                if not bulk:
                    touched |= ids
                unembedded |= outdated
                if progress:
                    progress(part.read - done)
                done = part.read
            else:
                _write_dump_row(db, dumps[name], part.page, part.count)
                done = 0
    if staged is None:
        return touched, unembedded, None
    last, unembedded = staged.finish()
    return touched, unembedded, last


def _rows(
    sources: list[tuple[Path, str]], parallel: bool, published: Path | None, embed: bool
) -> Iterator[tuple[str, Rows | DumpDone]]:
    """The dumps' rows and vectors, computed here or shared between `PARSERS` child processes."""
    known = str(published) if published else None
    if not parallel:
        yield from rows_with_vectors(sources, (0, 1), known, embed)
        return
    shares = [in_worker(rows_with_vectors, sources, (k, PARSERS), known, embed) for k in range(PARSERS)]
    try:
        yield from interleave(shares, len(sources))
    finally:
        for share in shares:
            share.close()


def _repeats(db: sqlite_utils.Database, dump: DumpFile) -> list[str]:
    """A paper listed twice in one dump loads as two appearances, but is worth a word."""
    rows = db.execute(
        "select p.title, repeated.positions from ("
        "  select paper_id, group_concat(position, ', ') as positions, min(position) as first"
        "  from (select paper_id, position from appearances where dump = ? order by position)"
        "  group by paper_id having count(*) > 1"
        ") repeated join papers p on p.id = repeated.paper_id order by repeated.first",
        [dump.name],
    ).fetchall()
    return [f"{dump.path}: {quoted(title)} is listed more than once (positions {positions})" for title, positions in rows]


def _write_rows(
    db: sqlite_utils.Database, rows: Rows, staged: StagedPapers | None, linked: SortedIds | None
) -> tuple[set[int], set[int]]:
    """Write one batch; its papers and vectors go to `staged` when given (a bulk load), else in
    place: a paper already known gets its text replaced only when the text changed. Its links
    replace the paper's. `linked`, when given, holds every paper with links and learns the
    batch's: only those need their links deleted first (deleting for every paper cost the writer
    1.4 s of 25 at 200,000 papers, nearly all of it deleting nothing).

    Returns the ids of its papers, and of those whose stored vector it made outdated (dropped).
    """
    conn = db.conn
    outdated: set[int] = set()
    if staged is not None:
        staged.write(rows)
    else:
        outdated = outdated_by(conn, rows)
        conn.executemany(
            f"""insert into papers ({', '.join(PAPER_ROW)}, appearances, code_links, has_code)
            values ({', '.join('?' * len(PAPER_ROW))}, 0, 0, 0)
            on conflict(id) do update set
                title = excluded.title, abstract = excluded.abstract, search_terms = excluded.search_terms
            where papers.title is not excluded.title or papers.abstract is not excluded.abstract""",
            rows.papers,
        )
        write_vectors(conn, rows.vectors)
        drop_vectors(conn, outdated)
    conn.executemany("insert into appearances values (?, ?, ?, ?, ?, ?, ?, ?)", rows.appearances)
    relinked = [row[0] for row in rows.papers]
    if linked is not None:
        relinked = [paper for paper, lacks in zip(relinked, linked.lacks(relinked)) if not lacks]
        linked.add([link[0] for link in rows.links])
    conn.executemany("delete from links where paper_id = ?", [(paper,) for paper in relinked])
    conn.executemany(
        "insert into repos (id, host, owner, name, url, papers) values (?, ?, ?, ?, ?, 0) on conflict(id) do nothing",
        list(rows.repos.values()),
    )
    conn.executemany("insert or replace into links values (?, ?, ?, ?, ?, ?, ?, ?)", rows.links)
    return {row[0] for row in rows.papers}, outdated


_MAX_EXPLICIT_YEAR = (
    "select max(cast(substr(date_iso, 1, 4) as integer)) from appearances where dump = ? and date_iso not like '--%'"
)


def _write_dump_row(db: sqlite_utils.Database, dump: DumpFile, page: Page, count: int) -> None:
    db["dumps"].upsert(
        {
            "name": dump.name,
            "max_explicit_year": db.execute(_MAX_EXPLICIT_YEAR, [dump.name]).fetchone()[0],
            "sha256": dump.sha256,
            "page_date": page.date.printed(),
            "capture_date": None,
            "capture_year": None,
            "capture_source": "unknown",
            "entry_count": count,
            "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        pk="name",
    )


def _record_files(db: sqlite_utils.Database, dumps: list[DumpFile], recorded: dict[str, Recorded]) -> None:
    """Remember each file's size and modification time, so the next build need not hash it.

    A dump the published database already had keeps its `loaded_at`, though a
    standby brought up to date has just loaded it again.
    """
    db.conn.executemany(
        "update dumps set size = ?, mtime_ns = ?, loaded_at = coalesce(?, loaded_at) where name = ? and sha256 = ?",
        [(dump.size, dump.mtime_ns, _loaded_at(recorded, dump), dump.name, dump.sha256) for dump in dumps],
    )


def _loaded_at(recorded: dict[str, Recorded], dump: DumpFile) -> str | None:
    known = recorded.get(dump.name)
    return known.loaded_at if known and known.sha256 == dump.sha256 else None


def _fill_max_explicit_years(db: sqlite_utils.Database) -> None:
    """For a database from before version 3, which did not store them."""
    db.conn.executemany(
        f"update dumps set max_explicit_year = ({_MAX_EXPLICIT_YEAR}) where name = ?",
        [(name, name) for (name,) in db.execute("select name from dumps").fetchall()],
    )


def gather_evidence(conn: sqlite3.Connection) -> tuple[dict[str, Evidence], dict[tuple[int, str], set[int]]]:
    """Read what the appearances say about each dump's year (see `loader.capture`).

    Each dump's latest explicit year is stored with it when it loads, and the
    year-less appearances have a partial index, so this reads what it uses,
    not every appearance (1 s of every build at a million papers).
    """
    evidence = {
        name: Evidence(page_date=_month_day(page_date), max_explicit_year=year)
        for name, page_date, year in conn.execute("select name, page_date, max_explicit_year from dumps")
    }
    for name, pid, date_iso in conn.execute(
        "select dump, paper_id, date_iso from appearances where date_iso like '--%'"
    ):
        evidence[name].yearless.add((pid, date_iso[2:]))
    explicit: dict[tuple[int, str], set[int]] = {}
    for pid, month_day, year in conn.execute(
        "select paper_id, substr(date_iso, 6), cast(substr(date_iso, 1, 4) as integer) from appearances "
        "where date_iso not like '--%' and paper_id in "
        "(select paper_id from appearances where date_iso like '--%')"
    ):
        explicit.setdefault((pid, month_day), set()).add(year)
    return evidence, explicit


def _is_current(db_path: Path, overrides: dict[str, int]) -> bool:
    """True when the database has this version's schema and the capture years the evidence gives."""
    with closing(_read_only(db_path)) as conn:
        if schema_version(conn) != SCHEMA_VERSION:
            return False
        stored = {
            name: Capture(year, source)
            for name, year, source in conn.execute("select name, capture_year, capture_source from dumps")
        }
        return stored == infer_capture_years(*gather_evidence(conn), overrides)


def _update_captures(db: sqlite_utils.Database, overrides: dict[str, int], track: bool) -> set[int]:
    """Store every dump's capture year; return the papers of dumps whose year changed (when `track`)."""
    captures = infer_capture_years(*gather_evidence(db.conn), overrides)
    touched: set[int] = set()
    for name, page_date, year, source in db.execute(
        "select name, page_date, capture_year, capture_source from dumps"
    ).fetchall():
        capture = captures[name]
        if (year, source) == (capture.year, capture.source):
            continue
        db.execute(
            "update dumps set capture_year = ?, capture_source = ?, capture_date = ? where name = ?",
            [capture.year, capture.source, _capture_date(page_date, capture.year), name],
        )
        if track:
            touched |= {row[0] for row in db.execute("select paper_id from appearances where dump = ?", [name])}
    return touched


def _month_day(page_date: str) -> tuple[int, int]:
    parsed = parse_month_day(page_date, with_year=False)
    assert parsed is not None, page_date  # stored by the loader from a parsed page
    return parsed[0].month, parsed[0].day


def _capture_date(page_date: str, year: int | None) -> str | None:
    return None if year is None else date(year, *_month_day(page_date)).isoformat()


# Each derived column of `papers`, from `temp.derived` (`d`): one list for the update of the papers
# a build touched and for the insert of a build from scratch's staged papers.
_DERIVED = {
    "published": "d.published",
    "published_year": PUBLISHED_YEAR,
    "authors_count": "d.authors_count",
    "organisation": "d.organisation",
    "first_seen": "d.first_seen",
    "last_seen": "d.last_seen",
    "first_listing": "d.first_listing",
    "added_on": "coalesce(d.first_seen, d.published)",
    "appearances": "d.appearances",
    "listed_in": "d.listed_in",
    "latest_upvotes": "d.latest_upvotes",
    "code_links": "d.code_links",
    "has_code": HAS_CODE,
    "search_filters": f"trim(coalesce('{YEAR_TOKEN}' || {PUBLISHED_YEAR}, '') || case when {HAS_CODE} then ' {CODE_TOKEN}' else '' end)",
}
# `only_touched` (on papers.id; '' for every paper) has the planner look the touched papers up by
# id: without it SQLite scanned every paper and probed `temp.derived` with each (0.2 s of a +100
# build at a million papers).
_UPDATE_PAPERS = (
    f"update papers set {', '.join(f'{column} = {value}' for column, value in _DERIVED.items())} "
    "from temp.derived d where d.id = papers.id {only_touched}"
)
# The staged papers' last texts (`loader.staging`), in id order, with their derived columns.
_INSERT_STAGED_PAPERS = (
    f"insert into papers ({', '.join(PAPER_ROW)}, {', '.join(_DERIVED)}) "
    f"select {', '.join(f's.{column}' for column in PAPER_ROW)}, {', '.join(_DERIVED.values())} "
    "from temp.derived d join {table} s on s.rowid = d.staged_row where d.id >= ? and d.id < ? order by d.id"
)

# What papers add to the counts of the dumps that list them, from their derived columns:
# as stored (`papers`, taken away before they change) or as recomputed (`temp.derived`).
_DUMP_SHARES = """
insert into temp.dump_changes
select j.value, {sign}count(*), {sign}sum(s.code_links > 0), {sign}sum(s.appearances = 1),
    {sign}sum(s.first_listing = j.value)
from {source} s, json_each(s.listed_in) j {where}
group by j.value
"""

_ADD_DUMP_CHANGES = """
update dumps set
    papers = dumps.papers + c.papers,
    with_code = dumps.with_code + c.with_code,
    only_here = dumps.only_here + c.only_here,
    added_papers = dumps.added_papers + c.added_papers
from (
    select dump, sum(papers) as papers, sum(with_code) as with_code, sum(only_here) as only_here,
        sum(added_papers) as added_papers
    from temp.dump_changes group by dump
) c
where c.dump = dumps.name
"""


def _start_touch_tracking(conn: sqlite3.Connection) -> None:
    """Temp tables of the papers and repos a build changes; a repo that loses a link is one."""
    conn.execute("create temp table touched (id integer primary key)")
    conn.execute("create temp table touched_repos (id text primary key)")
    conn.execute(
        "create temp trigger links_lost after delete on links when old.repo_id is not null "
        "begin insert or ignore into touched_repos values (old.repo_id); end"
    )


def _refresh_papers(db: sqlite_utils.Database, touched: set[int], every_paper: bool, staged: LastStaged | None) -> None:
    """Recompute derived columns of touched papers (or every paper), repos and dumps; drop what no listing shows any more.

    The `staged` papers of a build from scratch are written here, with their derived columns,
    a partition at a time (each dropped once written, so the next reuses its pages).

    Only a touched paper can have lost its last listing. A dump's counts of
    papers change only through its papers' `listed_in`, `appearances` and
    `code_links`: the touched papers' shares as stored are taken away and
    their shares as recomputed added, a few rows per paper.
    """
    conn = db.conn
    conn.executemany("insert or ignore into temp.touched values (?)", [(pid,) for pid in touched])
    conn.execute(
        "create temp table dump_changes (dump text, papers integer, with_code integer, only_here integer, added_papers integer)"
    )
    starting = "" if every_paper else "where papers is null"  # counted afresh, or new dumps
    conn.execute(f"update dumps set papers = 0, with_code = 0, only_here = 0, added_papers = 0 {starting}")
    if every_paper:  # nothing filtered: a million ids looked up in temp.touched cost seconds
        only_touched, only_touched_repos = "", ""
    else:
        only_touched = "and {} in (select id from temp.touched)"
        only_touched_repos = "and id in (select id from temp.touched_repos)"
        conn.execute(_DUMP_SHARES.format(sign="-", source="papers", where=f"where true {only_touched.format('s.id')}"))
        conn.execute(
            "insert or ignore into temp.touched_repos select repo_id from links "
            f"where repo_id is not null {only_touched.format('paper_id')}"
        )
    summaries.start(conn, every_paper, only_touched)
    orphans = "select id from temp.touched where id not in (select paper_id from appearances)"
    conn.execute(f"delete from links where paper_id in ({orphans})")
    conn.execute(f"delete from {PAPER_VECTORS.name} where paper_id in ({orphans})")
    conn.execute(f"delete from papers where id in ({orphans})")
    derive_papers(conn, only_touched.format("paper_id"), staged)
    if staged is None:
        conn.execute(_UPDATE_PAPERS.format(only_touched=only_touched.format("papers.id")))
    else:
        for table, low, high in staged.partitions():
            conn.execute(_INSERT_STAGED_PAPERS.format(table=table), [low, high])
            conn.execute(f"drop table {table}")
    conn.execute(_DUMP_SHARES.format(sign="", source="temp.derived", where=""))
    conn.execute(_ADD_DUMP_CHANGES)
    conn.execute(
        "update repos set papers = (select count(distinct paper_id) from links where repo_id = repos.id) "
        f"where true {only_touched_repos}"
    )
    conn.execute(f"delete from repos where papers = 0 {only_touched_repos}")
    summaries.finish(conn, every_paper, only_touched)
    conn.execute("drop trigger temp.links_lost")
    for table in ("derived", "touched", "touched_repos", "dump_changes"):
        conn.execute(f"drop table temp.{table}")


def _check(db: sqlite_utils.Database) -> None:
    """Refuse to publish a file that SQLite or FTS5 finds inconsistent.

    On request only: each change is one SQLite transaction into a private
    file, so a failed check would mean a bug in SQLite or a failing disk, and
    the checks read everything (85 s at a million papers: 34 s for SQLite's, 51 s
    for FTS5's, where adding 100 papers takes 1.3 s). The test suite runs them
    after every kind of build.
    """
    result = db.execute("pragma integrity_check").fetchone()[0]
    if result != "ok":
        raise BuildError(f"integrity_check failed: {result}")
    for table in FTS_TABLES:
        try:
            db.execute(f"insert into {table}({table}, rank) values ('integrity-check', 1)")
        except sqlite3.DatabaseError as error:
            raise BuildError(f"FTS5 integrity-check of {table} failed: {error}") from None


def _summarise(db: sqlite_utils.Database, plan: Plan, papers_before: int) -> Summary:
    counts = stored_counts(db.conn)
    papers = counts["papers"]
    return Summary(
        dumps_loaded=len(plan.to_load),
        dumps_unchanged=len(plan.unchanged),
        dumps_total=db["dumps"].count,
        papers=papers,
        new_papers=max(papers - papers_before, 0) if plan.to_load else 0,
        appearances=counts["appearances"],
        repos=counts["repos"],
    )
