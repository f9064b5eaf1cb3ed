"""Broad prefixes searched as their commonest words, so that no prefix costs more than a common word.

For a prefix query FTS5 first merges the posting lists of every word with the
prefix, all of them, before it returns a row, and SQLite cannot interrupt it:
at a million papers `a*` took 1.7 s and ended in Datasette's "SQL Interrupted"
page, `tr*` 200 ms and `pre*` 285 ms. Its cost is the sum of those words'
document frequencies. The build keeps those for a fixed sample of papers
(`word_rarity`, see `loader.related`): from it, a prefix whose words would
stand in more than `MAX_PREFIX_PAPERS` papers in all (or a prefix of one or
two characters, on a large database) is searched as its `EXPANSION_WORDS`
commonest words instead, each an ordinary term that FTS5 reads lazily. The search page says so (`search_note`). A narrower prefix,
like every prefix on a small database, is searched as typed.
"""

from __future__ import annotations

import bisect
import sqlite3

from .related import COMMON_IN_ABSTRACTS
from .text import STOPWORDS
from .versions import per_file_version

# Sum of document frequencies past which a prefix is searched as its commonest words: `evalu*`
# (225,000 papers at a million) answers within 35 ms at p95, `tr*` (several million) did not.
MAX_PREFIX_PAPERS = 250_000
# A prefix this short also stands for a great many rare words, which the sample cannot see and
# each of which FTS5 looks up: `z*` is 84,000 words at a million papers (88 ms). So past this many
# papers it is searched as its commonest words whatever their counts.
SHORT_PREFIX_CHARS = 2
SHORT_PREFIX_PAPERS = 50_000
EXPANSION_WORDS = 8
# Words the sample does not count (stop words and words in most abstracts): each is taken to be
# in every paper, so a prefix of one of them is broad as soon as the database is.
ALWAYS_COMMON = STOPWORDS | COMMON_IN_ABSTRACTS


class Prefixes:
    """What the sample says of a database's prefixes; empty (every prefix searched as typed) without one."""

    def __init__(self, counts: dict[str, int], sampled: int, papers: int) -> None:
        self.papers = papers
        self.papers_per_sampled = papers / sampled if sampled else 0.0
        self.counts = {word: sampled for word in ALWAYS_COMMON} | counts
        self.words = sorted(self.counts)
        self._known: dict[str, tuple[str, ...] | None] = {}

    @classmethod
    def of(cls, conn: sqlite3.Connection) -> "Prefixes":
        """The sample of the database `conn` reads (none for a database without one)."""
        try:
            [(papers, sampled)] = conn.execute("select papers, sampled from corpus").fetchall() or [(0, 0)]
            counts = dict(conn.execute("select word, papers from word_rarity"))
        except sqlite3.OperationalError:  # not a papers database
            return cls({}, 0, 0)
        return cls(counts, sampled, papers)

    def expansion(self, prefix: str) -> tuple[str, ...] | None:
        """The words to search instead of `prefix*`, commonest first; None to search the prefix as typed."""
        prefix = prefix.lower()
        if prefix not in self._known:
            if len(self._known) > 4096:  # a visitor may type any number of prefixes
                self._known.clear()
            self._known[prefix] = self._expand(prefix)
        return self._known[prefix]

    def _expand(self, prefix: str) -> tuple[str, ...] | None:
        if not self.papers_per_sampled:
            return None
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\U0010ffff", start)
        words = self.words[start:end]
        short = len(prefix) <= SHORT_PREFIX_CHARS and self.papers > SHORT_PREFIX_PAPERS
        if not words or not short and sum(self.counts[word] for word in words) * self.papers_per_sampled <= MAX_PREFIX_PAPERS:
            return None
        meaningful = [word for word in words if word not in STOPWORDS] or words  # `a*`: approach, not about
        return tuple(sorted(meaningful, key=lambda word: (-self.counts[word], word))[:EXPANSION_WORDS])


# One `Prefixes` per database file version, read once and shared by the connections to it.
of_database = per_file_version(Prefixes.of)
