"""The summary tables of the Trends dashboard, kept by each build for the papers it touches.

Counting papers by year, code and upvotes, owners by papers, or growth in
upvotes is a `group by` over a million rows, too slow for a page that draws
eight charts. So the build keeps the answers (`loader/schema.py` declares the
tables), and does for them what it does for the dumps' counts: a build from
scratch (or of a database from before these tables) derives them from every
paper; an incremental build takes away what the touched papers counted as
stored and adds what they count as recomputed, a few rows per paper. The
saved queries and the dashboard read a few hundred rows.

Called by `loader.build._refresh_papers`, inside its transaction, with the
temp tables it made: `temp.touched` (papers), `temp.touched_repos` (repos that
gained or lost a link) and `temp.derived` (the touched papers' recomputed
columns, with each one's first and last count of upvotes).
"""

from __future__ import annotations

import sqlite3

from .derive import HAS_CODE, PUBLISHED_YEAR, SEQ_DIGITS
from .schema import OWNER_COUNTS, PAPER_COUNTS, UPVOTE_GROWTH

# What each paper adds to `paper_counts`, by its stored columns; `latest_upvotes` is NULL for a
# paper no listing showed metadata for, which counts as 0 upvotes. A paper loaded by this build
# has no `listed_in` until its columns are derived: it counted nowhere yet.
_PAPER_SHARES = """
insert into temp.paper_count_changes
select published_year, has_code, coalesce(latest_upvotes, 0), {sign}count(*)
from papers s
where s.listed_in is not null {only_touched}
group by 1, 2, 3
"""

# Every paper's share at once, from `temp.derived`, which then holds every paper with a listing
# (`listed_in` not null): a scan of its narrow rows rather than of `papers` and their abstracts
# (3.6 s at a million papers).
_EVERY_PAPERS_SHARES = f"""
insert into temp.paper_count_changes
select {PUBLISHED_YEAR}, {HAS_CODE}, coalesce(d.latest_upvotes, 0), count(*)
from temp.derived d
group by 1, 2, 3
"""

# The counts as stored plus the changes; a key whose count falls to 0 goes (GROUP BY puts the
# NULL years together, where a key lookup would not).
_MERGE_PAPER_COUNTS = f"""
create temp table merged_paper_counts as
select published_year, has_code, latest_upvotes, sum(papers) as papers
from (select * from {PAPER_COUNTS.name} union all select * from temp.paper_count_changes)
group by 1, 2, 3
having sum(papers) != 0
"""

# A paper's growth in upvotes, from the first and last counts `temp.derived` found (each is the
# listing's place, the count in ten digits and the listing's name, glued; see loader/derive.py).
_COUNT = f"cast(substr({{glued}}, {SEQ_DIGITS + 1}, 10) as integer)"
_NAME = f"substr({{glued}}, {SEQ_DIGITS + 11})"
_GROWTH = f"""
insert into {UPVOTE_GROWTH.name}
select d.id, p.published_year,
    {_NAME.format(glued="d.first_counted")}, {_COUNT.format(glued="d.first_counted")},
    {_NAME.format(glued="d.last_counted")}, {_COUNT.format(glued="d.last_counted")},
    {_COUNT.format(glued="d.last_counted")} - {_COUNT.format(glued="d.first_counted")}
from temp.derived d join papers p on p.id = d.id
where d.counted >= 2
"""


def owner_key(repo_id: str) -> str:
    """SQL for the owner of the repository whose id is the column `repo_id`: the id less its last
    segment and slash (ids are `host/owner/name`, lower-cased; see loader/links.py). rtrim strips
    the characters that are not a slash from the end, up to the last slash."""
    return f"rtrim(rtrim({repo_id}, replace({repo_id}, '/', '')), '/')"


_OWNERS = f"""
insert into {OWNER_COUNTS.name} (owner_key, host, owner, repos, papers)
select {owner_key('r.id')} as key, min(r.host), min(r.owner), count(distinct r.id), count(distinct l.paper_id)
from {{repos}} join links l on l.repo_id = r.id
group by key
"""
# The owners of the repos a build touched (kept or gone), and all their repos: the ids between
# `host/owner/` and `host/owner0` (the character after the slash), a range of the primary key.
_TOUCHED_OWNERS = f"(select distinct {owner_key('id')} as key from temp.touched_repos)"
_TOUCHED_OWNERS_REPOS = f"{_TOUCHED_OWNERS} owners join repos r on r.id > owners.key || '/' and r.id < owners.key || '0'"


def start(conn: sqlite3.Connection, every_paper: bool, only_touched: str) -> None:
    """Before the touched papers change: take away what they counted (or, for every paper, everything)."""
    conn.execute(f"create temp table paper_count_changes as select * from {PAPER_COUNTS.name} where false")
    if every_paper:
        conn.execute(f"delete from {PAPER_COUNTS.name}")
        return
    conn.execute(_PAPER_SHARES.format(sign="-", only_touched=only_touched.format("s.id")))


def finish(conn: sqlite3.Connection, every_paper: bool, only_touched: str) -> None:
    """Once the touched papers and repos are up to date: add what they count now."""
    conn.execute(_EVERY_PAPERS_SHARES if every_paper else _PAPER_SHARES.format(sign="", only_touched=only_touched.format("s.id")))
    conn.execute(_MERGE_PAPER_COUNTS)
    conn.execute(f"delete from {PAPER_COUNTS.name}")
    conn.execute(f"insert into {PAPER_COUNTS.name} select * from temp.merged_paper_counts")
    conn.execute(f"delete from {UPVOTE_GROWTH.name} where true {only_touched.format('paper_id')}")
    conn.execute(_GROWTH)
    if every_paper:
        conn.execute(f"delete from {OWNER_COUNTS.name}")
        conn.execute(_OWNERS.format(repos="repos r"))
    else:
        conn.execute(f"delete from {OWNER_COUNTS.name} where owner_key in (select key from {_TOUCHED_OWNERS})")
        conn.execute(_OWNERS.format(repos=_TOUCHED_OWNERS_REPOS))
    for table in ("paper_count_changes", "merged_paper_counts"):
        conn.execute(f"drop table temp.{table}")
