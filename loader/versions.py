"""What a server process reads once per database file version, and shares between its connections.

Datasette opens several connections to a file; something read from it at start (the prefixes'
word counts, the papers' binary codes) is kept once per version of the file (its path, inode and
modification time) and read again when a rebuild replaces it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def per_file_version(read: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """`read(conn)`, done once per version of the file `conn` is open on; thread-safe."""
    kept: dict[tuple, T] = {}
    lock = threading.Lock()

    def of_database(conn: sqlite3.Connection) -> T:
        key = file_version(conn)
        with lock:
            if key not in kept:
                kept.clear()  # a server process serves one version; only the tests open many
                kept[key] = read(conn)
            return kept[key]

    return of_database


def file_version(conn: sqlite3.Connection) -> tuple:
    """The main database file's version (see `path_version`)."""
    return path_version(next((file for _, name, file in conn.execute("pragma database_list") if name == "main"), ""))


def path_version(path: str) -> tuple:
    """The file's path, device, inode, size and modification time (the path alone in memory or when
    it cannot be read): a build renames a new file over the old, which brings a new inode."""
    try:
        stat = os.stat(path)
    except OSError:
        return (path,)
    return (path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
