"""Every schema fact in one place: tables, columns, keys, indexes and the FTS index.

The loader creates tables from these declarations and the tests read them, so a
column added here is added everywhere.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import sqlite_utils


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # (column, other table, other column)
    indexes: tuple[tuple[str, ...], ...] = ()
    partial_indexes: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # (name, columns, where)
    not_null: frozenset[str] = field(default_factory=frozenset)


DUMPS = Table(
    "dumps",
    {
        "name": str,  # file name, the dump's identity
        "sha256": str,
        "page_date": str,  # as printed, e.g. "Jan 8"
        "capture_date": str,  # ISO date, NULL when the year is unknown
        "capture_year": int,
        "capture_source": str,  # manifest | pinned | explicit-years | unknown | conflict
        "entry_count": int,
        "loaded_at": str,  # ISO timestamp, UTC
        "max_explicit_year": int,  # latest year its dates print: it was captured in that year or later
        "size": int,  # bytes of the file as last seen; with mtime_ns, spares the next build hashing it
        "mtime_ns": int,  # its modification time, in nanoseconds since the epoch
        # Kept by each build (see `loader.build._refresh_papers`), so that listing the dumps
        # does not join a million appearances with their papers:
        "papers": int,  # distinct papers it lists
        "with_code": int,  # of those, papers that link to code
        "only_here": int,  # of those, papers no other dump lists
        "added_papers": int,  # of those, papers it showed first (their `first_listing`)
    },
    pk="name",
    not_null=frozenset({"sha256", "page_date", "capture_source", "entry_count", "loaded_at"}),
)

PAPERS = Table(
    "papers",
    {
        "id": int,  # stable: derived from the normalised title
        "title": str,
        "abstract": str,
        "published": str,  # ISO date, NULL when no listing gave (or implied) the year
        "published_year": int,
        "authors_count": int,
        "organisation": str,
        "first_seen": str,  # capture date of the earliest listing with a known date
        "last_seen": str,
        "appearances": int,  # how many listings (dumps) showed it
        "listed_in": str,  # JSON array of those dumps' names, for the array facet
        "latest_upvotes": int,
        "code_links": int,  # links to code repositories
        "has_code": int,  # 1 when code_links > 0, for faceting
        "title_key": str,  # the normalised title the id is derived from
        "search_terms": str,  # compounds joined (pre-training -> pretraining), indexed for search
        "search_filters": str,  # tokens the search filters match in the FTS index, e.g. "py2024 hascode"
        # The listing that showed it first: the earliest capture date, then the name; a listing
        # whose year is unknown comes after every dated one (as for first_seen, which it gives).
        "first_listing": str,
        "added_on": str,  # first_seen, else published: when the paper was new, the order of the feeds
    },
    pk="id",
    indexes=(
        ("published_year", "has_code"),  # the year facet
        ("has_code",),
        ("organisation",),
        ("appearances",),
        ("latest_upvotes",),
        ("published",),
        ("added_on",),  # the feed of new papers, newest first
        ("published_year", "appearances"),  # the most re-listed papers of each year
        ("published_year", "added_on"),  # the feed of new papers of some years, year by year
    ),
    not_null=frozenset({"title", "abstract", "appearances", "code_links", "has_code", "title_key", "search_terms"}),
)

REPOS = Table(
    "repos",
    {
        "id": str,  # host/owner/name, lower-cased
        "host": str,
        "owner": str,
        "name": str,
        "url": str,
        "papers": int,  # how many papers mention it
    },
    pk="id",
    indexes=(("owner",), ("host",), ("papers",)),  # papers: the table page's order (sort_desc)
    not_null=frozenset({"host", "owner", "name", "url", "papers"}),
)

LINKS = Table(
    "links",
    {
        "paper_id": int,
        "ordinal": int,  # 1-based order in the abstract
        "url": str,  # cleaned
        "raw": str,  # as written in the abstract
        "kind": str,  # code | project | huggingface | arxiv | other
        "host": str,
        "repo_id": str,
        "path": str,  # deep-link path inside the repository
    },
    pk=("paper_id", "ordinal"),
    foreign_keys=(("paper_id", "papers", "id"), ("repo_id", "repos", "id")),
    indexes=(("repo_id",), ("kind",), ("host",)),
    not_null=frozenset({"url", "raw", "kind", "host"}),
)

APPEARANCES = Table(
    "appearances",
    {
        "dump": str,
        "position": int,  # 1-based place in the listing
        "paper_id": int,
        "upvotes": int,  # as shown; NULL when the listing showed none
        "date_printed": str,  # e.g. "Feb 7, 2024" or "Jun 12"; NULL without metadata
        "date_iso": str,  # "2024-02-07", or "--06-12" when printed without a year
        "authors_count": int,
        "organisation": str,
    },
    pk=("dump", "position"),
    foreign_keys=(("dump", "dumps", "name"), ("paper_id", "papers", "id")),
    # A paper's appearances; with date_iso, it also holds all that capture-year inference reads
    # of the dated appearances of papers shown without a year (a third less time at 1M).
    indexes=(("paper_id", "date_iso"),),
    # The appearances printed without a year, which capture-year inference reads on every build.
    partial_indexes=(("idx_appearances_yearless", ("date_iso", "paper_id", "dump"), "date_iso like '--%'"),),
)

WORD_RARITY = Table(
    "word_rarity",
    {
        "word": str,
        "papers": int,  # how many papers of the sample use it (see loader/related.py)
        "idf": float,  # its weight in a paper's related query; NULL when too common or unique
    },
    pk="word",
)

CORPUS = Table(
    "corpus",
    {
        "papers": int,
        "sampled": int,  # papers in the word_rarity sample
        "common_limit": int,  # sampled papers a word may be in and still count as distinctive
        "unseen_idf": float,  # weight of a word the sample lacks; NULL when the sample is every paper
    },
    pk="papers",
)

ROW_COUNTS = Table(
    "row_counts",
    {
        "name": str,  # a table's name
        "rows": int,  # how many rows it holds, kept by each build (see loader/counts.py)
    },
    pk="name",
    not_null=frozenset({"rows"}),
)

PAPER_VECTORS = Table(
    "paper_vectors",
    {
        "paper_id": int,
        "vector": bytes,  # 256 int8 components: the paper's meaning, for search by meaning (loader/embed.py)
    },
    pk="paper_id",
    foreign_keys=(("paper_id", "papers", "id"),),
    not_null=frozenset({"vector"}),
)

# Summary tables, kept by each build (see loader/summaries.py) so that the Trends dashboard and
# its saved queries read a few hundred rows instead of grouping a million.
PAPER_COUNTS = Table(
    "paper_counts",
    {
        "published_year": int,  # NULL: the year is unknown
        "has_code": int,
        "latest_upvotes": int,
        "papers": int,  # how many papers have these three values
    },
    # SQLite lets a key column hold NULL (and two NULLs differ), so the build matches rows with IS.
    pk=("published_year", "has_code", "latest_upvotes"),
    not_null=frozenset({"has_code", "latest_upvotes", "papers"}),
)

OWNER_COUNTS = Table(
    "owner_counts",
    {
        "owner_key": str,  # host/owner, lower-cased: the repos whose id starts with it and a slash
        "host": str,
        "owner": str,  # one of its repositories' spellings of the owner
        "repos": int,  # its repositories that papers link to
        "papers": int,  # distinct papers linking at least one of them
    },
    pk="owner_key",
    indexes=(("papers",),),
    not_null=frozenset({"host", "owner", "repos", "papers"}),
)

UPVOTE_GROWTH = Table(
    "upvote_growth",
    {
        "paper_id": int,
        "published_year": int,
        "first_listing": str,  # the first listing that showed its upvotes (in the order of first_seen)
        "first_upvotes": int,
        "last_listing": str,  # the latest one that did
        "last_upvotes": int,
        "growth": int,  # last_upvotes - first_upvotes
    },
    pk="paper_id",
    foreign_keys=(("paper_id", "papers", "id"),),
    indexes=(("published_year", "growth"),),  # the papers that rose most, year by year
    not_null=frozenset({"first_listing", "first_upvotes", "last_listing", "last_upvotes", "growth"}),
)

TABLES = (
    DUMPS, PAPERS, REPOS, LINKS, APPEARANCES, WORD_RARITY, CORPUS, ROW_COUNTS, PAPER_VECTORS,
    PAPER_COUNTS, OWNER_COUNTS, UPVOTE_GROWTH,
)
# Views, made afresh by `create_schema`. `feed_entries` is each paper as an Atom entry, in the
# columns datasette-atom reads: the saved queries that are feeds (new_papers, new_in_latest) take
# them from here. The id never changes; the date is when the paper was new (`added_on`), or, for
# a paper no listing or printed date gives a year, when its first listing was loaded; the link
# is relative, to the paper's page on whatever host serves the feed (RFC 4287 resolves it
# against the feed's address).
VIEWS = {
    "feed_entries": """
        select p.id,
            'tag:daily-papers-search,2025:paper/' || p.id as atom_id,
            p.title as atom_title,
            coalesce(p.added_on || 'T00:00:00Z', d.loaded_at) as atom_updated,
            '/papers/papers/' || p.id as atom_link,
            p.abstract as atom_content
        from papers p left join dumps d on d.name = p.first_listing
    """,
}
# Tables earlier versions made that this one does not; `create_schema` drops them.
OBSOLETE_TABLES = ("related",)  # version 1 stored related papers at build time
# Indexes of version 4 and earlier that wider ones of this version replace.
OBSOLETE_INDEXES = ("idx_appearances_paper_id", "idx_papers_published_year")
# Stored as `pragma user_version`: a database of another version is brought up to this one
# (version 2 lacked dumps.max_explicit_year, size and mtime_ns, which `create_schema` adds and
# `loader.build` fills; version 3 lacked row_counts, which the next build fills; version 4 lacked
# papers.search_filters, and its FTS index that column, so the next build derives and indexes them;
# version 5 lacked the counts of papers in dumps, which the next build makes from every paper;
# version 6 lacked paper_vectors, which the next build fills for every paper; version 7 lacked
# papers.first_listing and added_on, dumps.added_papers and the summary tables, which the next
# build derives from every paper; version 8 lacked papers_title_fts, which the next build
# fills from every paper).
SCHEMA_VERSION = 9
FILTERS_SINCE = 5  # the first version whose FTS index holds search_filters
VECTORS_SINCE = 7  # the first version with paper_vectors
# The first version with first listings and the summary tables (and, since 6, the dumps' counts
# of papers): an older database has them derived from every paper.
SUMMARIES_SINCE = 8

FTS_TABLE = "papers_fts"
FTS_COLUMNS = ("title", "abstract", "search_terms", "search_filters")
# The titles alone (and the filters' tokens), for a broad query's title candidates (`every_titled`
# in the search query): in `papers_fts`, FTS5 learns a term's column by reading the positions of
# every paper that holds it, 15 to 70 ms a query at a million papers where this index takes 0.1 to
# 14 ms. Its content is `papers` in single quotes, which Datasette's and sqlite-utils' detection of
# a table's FTS index do not look for: theirs stays `papers_fts`.
TITLE_FTS_TABLE = "papers_title_fts"
TITLE_FTS_COLUMNS = ("title", "search_filters")
# Each index, its columns and the prefix of the names of the triggers that keep it in step.
FTS_INDEXES = ((FTS_TABLE, FTS_COLUMNS, "papers"), (TITLE_FTS_TABLE, TITLE_FTS_COLUMNS, "papers_title"))
FTS_TABLES = tuple(table for table, _, _ in FTS_INDEXES)
# The search filters' tokens, written by `loader.build` and asked for by `loader.search.filters`:
# digits and a prefix, which the porter stemmer leaves alone and no English word is. A visitor
# who types one filters by hand.
YEAR_TOKEN = "py"  # py2024: published in 2024
CODE_TOKEN = "hascode"  # links to a code repository
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"
FTS_HASHSIZE = 64 << 20  # bytes of terms FTS5 gathers before writing a segment (see `rebuild_fts`)
# How FTS5 merges segments, in a rebuild and in every later build: never as it writes (automerge 0),
# only a level of 64 segments (crisismerge). With FTS5's defaults (4 and 16), the small segments
# of later builds (6 to 12 a +100 build) were merged up to level 1, where `optimize` leaves an index
# the rebuild wrote in several segments (more than `FTS_HASHSIZE` of terms), and merged with it: at
# a million papers every third +100 build rewrote 1.5 GB in 22 s. Now that waits for 64 merges of
# 64 small segments; a search reads up to some 128 segments an index meanwhile (64 at a million
# papers: +10% of the judged queries' time in-process; docs/benchmarks.md). A smaller index stays
# on level 0, with the small segments, and is rewritten with them: it is small.
FTS_MERGE = (("automerge", 0), ("crisismerge", 64))
# Bytes a page, for a database made from scratch (an existing one keeps its own): each index the
# build creates, its FTS5 rebuild and its derived columns read the whole `papers` table, a page at
# a time, through a read from the file; 16 KB pages read it in a quarter of the reads. At a million
# papers the nine indexes of `papers` took 23 s instead of 40 to 51 s, and the build and its file
# were some 5% faster and smaller (docs/benchmarks.md, "16 KB pages").
PAGE_SIZE = 16384


def create_schema(db: sqlite_utils.Database, *, indexes: bool = True) -> None:
    """Create every table, index and the FTS index and drop obsolete tables; a no-op where done.

    A bulk load passes `indexes=False` and calls `create_indexes` once the rows
    are in: sorting once is cheaper than keeping indexes up to date row by row.
    """
    for name in OBSOLETE_TABLES:
        db.execute(f"drop table if exists [{name}]")
    for name in OBSOLETE_INDEXES:
        db.execute(f"drop index if exists [{name}]")
    for table in TABLES:
        db[table.name].create(
            table.columns,
            pk=table.pk,
            foreign_keys=list(table.foreign_keys),
            not_null=set(table.not_null),
            if_not_exists=True,
        )
        existing = db[table.name].columns_dict
        for column, kind in table.columns.items():
            if column not in existing:  # a table an earlier version made
                db[table.name].add_column(column, kind)
    for name, sql in VIEWS.items():
        db.execute(f"drop view if exists [{name}]")
        db.execute(f"create view [{name}] as {sql}")
    if indexes:
        create_indexes(db)
    if FTS_TABLE not in db.table_names() or tuple(db[FTS_TABLE].columns_dict) != FTS_COLUMNS:
        db[PAPERS.name].enable_fts(list(FTS_COLUMNS), replace=True, tokenize=FTS_TOKENIZE)
    if TITLE_FTS_TABLE not in db.table_names():
        create_title_fts(db)
    create_fts_triggers(db)
    for table in FTS_TABLES:  # an index made before `FTS_MERGE` kept FTS5's defaults
        for option, value in FTS_MERGE:
            fts_config(db, option, value, table)
    db.execute(f"pragma user_version = {SCHEMA_VERSION}")


def create_title_fts(db: sqlite_utils.Database, tokenize: str = FTS_TOKENIZE) -> None:
    """The titles' index, made from the papers already there (none in a new database, every paper
    of a database made before version 9)."""
    db.execute(
        f"create virtual table {TITLE_FTS_TABLE} using fts5({', '.join(TITLE_FTS_COLUMNS)}, "
        f"tokenize='{tokenize}', content='{PAPERS.name}')"
    )
    rebuild_fts(db, (TITLE_FTS_TABLE,))


def create_indexes(db: sqlite_utils.Database, tables: tuple[Table, ...] = TABLES) -> None:
    """The indexes of `tables` that do not exist yet."""
    for table in tables:
        for columns in table.indexes:
            db[table.name].create_index(list(columns), if_not_exists=True)
        for name, columns, where in table.partial_indexes:
            db.execute(f"create index if not exists [{name}] on [{table.name}] ({', '.join(columns)}) where {where}")
    if PAPERS in tables:
        db[PAPERS.name].create_index(["title_key"], unique=True, if_not_exists=True)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("pragma user_version").fetchone()[0]


def create_fts_triggers(db: sqlite_utils.Database) -> None:
    """Keep the FTS indexes in step with `papers`; an update re-indexes only when indexed text changes.

    (sqlite-utils' own update trigger fires on any column, and the loader updates
    derived columns of every touched paper, `search_filters` among them, mostly
    to the value they had: that would double the cost of a build.)
    """
    for table, columns, prefix in FTS_INDEXES:
        listed = ", ".join(columns)
        old = ", ".join(f"old.{c}" for c in columns)
        new = ", ".join(f"new.{c}" for c in columns)
        changed = " or ".join(f"old.{c} is not new.{c}" for c in columns)
        delete = f"insert into {table} ({table}, rowid, {listed}) values ('delete', old.rowid, {old});"
        insert = f"insert into {table} (rowid, {listed}) values (new.rowid, {new});"
        db.execute(f"create trigger if not exists {prefix}_ai after insert on papers begin {insert} end")
        db.execute(f"create trigger if not exists {prefix}_ad after delete on papers begin {delete} end")
        db.execute(
            f"create trigger if not exists {prefix}_au after update of {listed} on papers when {changed} "
            f"begin {delete} {insert} end"
        )


def drop_fts_triggers(db: sqlite_utils.Database) -> None:
    """For a bulk load into an empty table: index once at the end (`rebuild_fts`) instead of row by row."""
    for _, _, prefix in FTS_INDEXES:
        for suffix in ("ai", "ad", "au"):
            db.execute(f"drop trigger if exists {prefix}_{suffix}")


def rebuild_fts(db: sqlite_utils.Database, tables: tuple[str, ...] = FTS_TABLES) -> None:
    """Index every paper at once, in rowid order, which is the order FTS5 writes fastest.

    FTS5 collects terms in memory and writes a segment each time that reaches
    `hashsize` (default 1 MB); 64 MB makes fewer, larger segments and less
    merging (a 100k-paper rebuild: 8.7 s -> 5.6 s). Rows added one at a time
    in id order would be no good: ids are hashes, and FTS5 writes a segment
    whenever a rowid is lower than the one before.

    Then `optimize` merges what the rebuild left into one segment. Left as
    they were, the large first-level segments were merged by the first small
    write into the file instead: 2 s for 100 papers at 100k, against 8 ms.
    Since the segments are merged once at the end, the rebuild does not merge
    them as it goes (`FTS_MERGE`): that rewrote the index two or three times
    over, and at a million papers the rebuild took 108 to 128 s with it, 77 s
    without.
    """
    for table in tables:
        for option, value in fts_rebuild_options():
            fts_config(db, option, value, table)
        db.execute(f"insert into {table} ({table}) values ('rebuild')")
        db.execute(f"insert into {table} ({table}) values ('optimize')")


def fts_rebuild_options() -> tuple[tuple[str, int], ...]:
    """FTS5's options while a whole index is rebuilt (`rebuild_fts`; bench/scale.py's floor uses them too)."""
    return (("hashsize", FTS_HASHSIZE), *FTS_MERGE)


def fts_config(db: sqlite_utils.Database, key: str, value: int, table: str = FTS_TABLE) -> None:
    """Set one of FTS5's options; it is stored in the index and holds for every later write."""
    db.execute(f"insert into {table} ({table}, rank) values (?, ?)", [key, value])
