"""One build at a time per database: an exclusive `flock` on `<db>.lock`, held for the whole build.

Two builds that each add a dump to the same file would each start from the
database as it was, add their dump and rename their file over it: the second
rename would throw the first build's dump away. Under the lock the second
build waits, then plans against the database the first one published.

The kernel releases a `flock` when its holder dies, however it dies, so a
killed build never leaves the database locked. The holder writes its process
id into the file (for the waiting build's message) and removes the file before
it lets go; a waiter that then finds it locked a file no longer at the path
starts again on the new one, so two builds can never each hold "the" lock.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

OnWait = Callable[[str], None]


class Locked(Exception):
    """Another build holds the lock and the caller asked not to wait; the message is one line."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.name}.lock")


@contextmanager
def build_lock(db_path: Path, *, wait: bool = True, on_wait: OnWait | None = None) -> Iterator[None]:
    """Hold the database's build lock for the body; `on_wait` hears once whom a wait is for."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not _try_lock(descriptor):
                holder = _holder(descriptor)
                if not wait:
                    raise Locked(f"{db_path}: another build ({holder}) is running; try again once it has finished")
                if on_wait is not None and not told:
                    on_wait(f"waiting for another build of {db_path} ({holder}) to finish")
                    told = True
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _still_at(path, descriptor):
                break
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # its holder removed it while we waited: lock the file at the path now
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # still holding it: a waiter on this file will start again
        os.close(descriptor)


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(descriptor: int) -> str:
    """The holder as it wrote itself into the file; it may not have written yet."""
    text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    return f"process {text}" if text.isdigit() else "process unknown"


def _still_at(path: Path, descriptor: int) -> bool:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(descriptor)
    return (found.st_dev, found.st_ino) == (mine.st_dev, mine.st_ino)
