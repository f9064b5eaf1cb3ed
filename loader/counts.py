"""How many rows the large tables hold, kept by each build instead of counted.

`count(*)` reads a whole index: 10 to 25 MB per table at a million papers,
a large part of a build that adds 100 papers when the file is not in the page
cache. A build from scratch counts once, at the end; an incremental build adds
what temp triggers saw it insert and delete to the counts the file stored.
"""

from __future__ import annotations

import sqlite3

from .schema import ROW_COUNTS

COUNTED = ("papers", "appearances", "repos")


def track_counts(conn: sqlite3.Connection) -> None:
    """From now on, note every row this connection inserts into or deletes from a counted table."""
    conn.execute("create temp table row_changes (name text primary key, change integer not null default 0)")
    conn.executemany("insert into temp.row_changes (name) values (?)", [(table,) for table in COUNTED])
    for table in COUNTED:
        for event, sign in (("insert", "+"), ("delete", "-")):
            conn.execute(
                f"create temp trigger [count_{table}_{event}] after {event} on main.[{table}] "
                f"begin update row_changes set change = change {sign} 1 where name = '{table}'; end"
            )


def store_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Write the counts of every counted table into `row_counts` and return them.

    With `track_counts` started, a table whose count was stored is not read
    again; a table without a stored count (a build from scratch, or a file
    from before counts were kept) is counted.
    """
    tracked = conn.execute("select 1 from temp.sqlite_master where name = 'row_changes'").fetchone() is not None
    stored = stored_counts(conn)
    counts = {}
    for table in COUNTED:
        if tracked and table in stored:
            counts[table] = stored[table] + _change(conn, table)
        else:
            counts[table] = conn.execute(f"select count(*) from [{table}]").fetchone()[0]
    conn.executemany(
        f"insert or replace into {ROW_COUNTS.name} (name, rows) values (?, ?)", list(counts.items())
    )
    if tracked:
        for table in COUNTED:
            for event in ("insert", "delete"):
                conn.execute(f"drop trigger temp.[count_{table}_{event}]")
        conn.execute("drop table temp.row_changes")
    return counts


def stored_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """The counts the last build stored; none in a file from before they were kept."""
    if conn.execute("select 1 from sqlite_master where name = ?", [ROW_COUNTS.name]).fetchone() is None:
        return {}
    return dict(conn.execute(f"select name, rows from {ROW_COUNTS.name}"))


def _change(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute("select change from temp.row_changes where name = ?", [table]).fetchone()[0]
