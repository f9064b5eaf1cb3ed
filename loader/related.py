"""Related papers: chosen when a page asks for them, from word rarities stored at build time.

A paper's most distinctive words (TF-IDF over title and abstract, title words
counted three times) become an OR query against the full-text index; the best
BM25 matches other than the paper itself are its related papers. The query is
the `related` saved query in `metadata.yml`; the paper page runs the same one.

Only the rarities are computed by the build: how many papers of a fixed-size
sample use each word (`word_rarity`) and the corpus facts that go with it
(`corpus`). That costs the same at any size, so neither a full build nor an
incremental one pays a query per paper, and an older paper's list takes in
papers added after it without a rebuild.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter

from .limits import as_stored
from .text import STOPWORDS

TITLE_WEIGHT = 3
SAMPLE_SIZE = 5000  # papers whose words estimate how rare a word is
# A word in more than this many papers (per SAMPLE_SIZE, or in a tenth of a smaller corpus) is not
# distinctive: it tells little, and on a large index it makes the query slow.
COMMON_LIMIT = 20
# And a word expected in more than this many papers of the whole database is left out too, so
# one paper's query reads a bounded number of postings however large the database grows.
MAX_POSTINGS = 500

# Words too common in abstracts to tell papers apart, on top of the ordinary stop words.
COMMON_IN_ABSTRACTS = frozenset(
    """paper propose proposed show shows new novel approach method methods results based work existing recent
    recently model models task tasks data performance state art two one""".split()
)
_WORD = re.compile(r"[^\W_]{2,}")


def words(text: str) -> list[str]:
    """Lower-cased words of two or more letters or digits, stop words left out."""
    return [
        w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and w not in COMMON_IN_ABSTRACTS and not w.isdigit()
    ]


def paper_terms(title: str, abstract: str) -> Counter[str]:
    counts = Counter(words(abstract))
    for word in words(title):
        counts[word] += TITLE_WEIGHT
    return counts


def related_words(title: str | None, abstract: str | None) -> str:
    """SQL function: the paper's candidate words and their weights, as a JSON object for `json_each`."""
    return json.dumps(paper_terms(as_stored(title), as_stored(abstract)))


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("related_words", 2, related_words, deterministic=True)


def track_sample(conn: sqlite3.Connection) -> list[int]:
    """The sample's ids before a build writes; from now on, sampled papers it rewrites or drops are noted.

    With that, `refresh_word_rarity` can count only the papers that entered
    or left the sample (about 0.5% of new papers at a million) instead of
    reading all 5,000 again, which took a second of every incremental build.
    """
    ids = [row[0] for row in conn.execute("select id from papers order by id limit ?", [SAMPLE_SIZE])]
    conn.execute("create temp table sample_dirty (id integer primary key)")
    if len(ids) == SAMPLE_SIZE:
        for event in ("update of title, abstract", "delete"):
            conn.execute(
                f"create temp trigger [sample_{event.split()[0]}] after {event} on papers when old.id <= {ids[-1]} "
                "begin insert or ignore into sample_dirty values (old.id); end"
            )
    return ids


def refresh_word_rarity(conn: sqlite3.Connection, papers: int, sampled_before: list[int] | None = None) -> None:
    """Bring `word_rarity` and `corpus` up to date with the sample: the SAMPLE_SIZE lowest paper ids.

    Ids are hashes of titles, so the lowest ones are an unbiased sample, read
    in index order at a fixed cost however large the database is. Given the
    ids `track_sample` returned, the counts are adjusted for the papers that
    entered or left the sample, when none of its papers changed text;
    otherwise, and for a first count, the sample is counted again.
    `papers` is how many papers the database holds.
    """
    if sampled_before is not None and _adjustable(conn, sampled_before, papers):
        _adjust(conn, sampled_before, papers)
    else:
        _recount(conn, papers)
    conn.execute("drop trigger if exists temp.sample_update")
    conn.execute("drop trigger if exists temp.sample_delete")
    conn.execute("drop table if exists temp.sample_dirty")


def _recount(conn: sqlite3.Connection, papers: int) -> None:
    frequency: Counter[str] = Counter()
    sampled = 0
    for title, abstract in conn.execute("select title, abstract from papers order by id limit ?", [SAMPLE_SIZE]):
        frequency.update(paper_terms(title, abstract).keys())
        sampled += 1
    complete = sampled == papers
    limit = common_limit(sampled, papers)
    conn.execute("delete from word_rarity")
    conn.executemany(
        "insert into word_rarity (word, papers, idf) values (?, ?, ?)",
        ((word, seen, idf(seen, sampled, complete, limit)) for word, seen in frequency.items()),
    )
    conn.execute("delete from corpus")
    conn.execute(
        "insert into corpus (papers, sampled, common_limit, unseen_idf) values (?, ?, ?, ?)",
        [papers, sampled, limit, None if complete else idf(0, sampled, complete, limit)],
    )


def _adjustable(conn: sqlite3.Connection, sampled_before: list[int], papers: int) -> bool:
    """A full sample before and after, stored counts of it, and no sampled paper rewritten or dropped."""
    stored = conn.execute("select sampled from corpus").fetchone()
    full = len(sampled_before) == SAMPLE_SIZE and papers > SAMPLE_SIZE and stored == (SAMPLE_SIZE,)
    return full and conn.execute("select count(*) from temp.sample_dirty").fetchone() == (0,)


def _adjust(conn: sqlite3.Connection, sampled_before: list[int], papers: int) -> None:
    now = [row[0] for row in conn.execute("select id from papers order by id limit ?", [SAMPLE_SIZE])]
    change: Counter[str] = Counter()
    for sign, ids in ((1, set(now) - set(sampled_before)), (-1, set(sampled_before) - set(now))):
        for title, abstract in conn.execute(
            "select title, abstract from papers where id in (select value from json_each(?))", [json.dumps(sorted(ids))]
        ):
            for word in paper_terms(title, abstract):
                change[word] += sign
    changed = {word: by for word, by in change.items() if by}
    conn.executemany(
        "insert into word_rarity (word, papers) values (?, ?) on conflict (word) do update set papers = papers + excluded.papers",
        list(changed.items()),
    )
    conn.execute("delete from word_rarity where papers <= 0")
    _reweigh(conn, papers, changed)


def _reweigh(conn: sqlite3.Connection, papers: int, changed: dict[str, int]) -> None:
    """New weights for the words whose counts changed, or for all when the corpus size moved the limit."""
    old_limit = conn.execute("select common_limit from corpus").fetchone()[0]
    limit = common_limit(SAMPLE_SIZE, papers)
    if limit != old_limit:
        counts = conn.execute("select word, papers from word_rarity").fetchall()
    else:
        counts = conn.execute(
            "select word, papers from word_rarity where word in (select value from json_each(?))", [json.dumps(list(changed))]
        ).fetchall()
    conn.executemany(
        "update word_rarity set idf = ? where word = ?", [(idf(seen, SAMPLE_SIZE, False, limit), word) for word, seen in counts]
    )
    conn.execute(
        "update corpus set papers = ?, common_limit = ?, unseen_idf = ?", [papers, limit, idf(0, SAMPLE_SIZE, False, limit)]
    )


def common_limit(sampled: int, papers: int) -> int:
    """How many sampled papers may hold a word that still counts as distinctive."""
    by_share = min(COMMON_LIMIT, max(sampled // 10, 2))
    by_postings = MAX_POSTINGS * sampled // max(papers, 1)
    return max(min(by_share, by_postings), 1)


def idf(seen: int, sampled: int, complete: bool, limit: int) -> float | None:
    """A word's rarity weight; None for a word that cannot tell papers apart.

    Words in more than `limit` sampled papers are too common (see `common_limit`);
    when the sample is every paper, a word in only one paper matches nothing else.
    """
    if seen > limit or (complete and seen <= 1):
        return None
    return math.log((sampled + 1) / (seen + 1))
