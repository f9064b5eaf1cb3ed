"""The peer for the relevance benchmarks: tantivy, a Lucene-class engine, over the same papers.

What a site would set up if it picked a real search engine instead of SQLite FTS5, with
that engine's usual choices and nothing tuned to the judged queries:

- the papers (id, title, abstract) read from the `papers` table of a built database, so both
  engines hold exactly the same rows;
- tantivy's English stemming tokenizer (`en_stem`: split on non-alphanumerics, drop tokens of
  more than 40 bytes, lowercase, Snowball English stemmer) on title and abstract;
- BM25 (tantivy's only scorer; statistics over the whole index), title boosted 10;
- tantivy's query parser with its default conjunction, OR: a paper with any word of the query
  is a match, those with more (and rarer) words rank first.

The visitor's text is made safe before the parser sees it (`safe_query`), so that any input
parses and nothing a visitor types is read as query syntax they did not mean:

- `"a phrase"` (balanced double quotes) stays a phrase; `"a phrase"*` a phrase prefix;
  `title:"a phrase"` a phrase in the title;
- `word*` asks for the prefix as tantivy's query language allows, with a regex on each field
  (`title:/word.*/^10 abstract:/word.*/`, constant-scored like Lucene's prefix queries),
  together with `"word"` itself, so that the stem still meets its inflections (the index
  holds stems: `distill*` alone would miss `distil`, the stem of `distillers`);
- `title:word` keeps to the title, as in our search;
- every other word is quoted (`"word"`), so `AND`, `OR`, `NOT`, `+`, `-`, `:`, `^`, `~`,
  brackets, parentheses, `*` and `\\` are text; inside quotes, `"` and `\\` are dropped. A word
  with hyphens or other inner punctuation becomes the phrase of its parts (`"pre-trained"`:
  `pre train`), as in any Lucene analyser.

If the parser still refuses the result (a phrase prefix whose phrase has one word left after
tokenizing, say), the lenient parser tries, and if that fails too the answer is no result:
`search` never raises for a visitor's text.

    with build_index(db) as peer:           # a temporary folder, removed on exit
        peer.seconds, peer.size_bytes()     # build time (reading rows included) and index size
        peer.search("layerwise quantization")  # [(id, title), ...], best first, at most 10
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import tantivy

TOKENIZER = "en_stem"
FIELDS = ["title", "abstract"]
TITLE_BOOST = 10.0
DEPTH = 10
# 2 cores: two indexing threads (the Python thread feeding them is mostly idle while they
# work), each with a 128 MB arena: few segments to merge at 100,000 papers, modest memory.
WRITER_THREADS = max(1, min(2, os.cpu_count() or 1))
WRITER_HEAP = WRITER_THREADS * 128 * 1024 * 1024

PHRASE = re.compile(r'(?:(?<!\S)(title):)?"([^"]*)"(\*?)', re.IGNORECASE)
ALNUM = re.compile(r"[^\W_]+")


def _phrase(text: str) -> str:
    return '"' + text.replace("\\", " ").replace('"', " ") + '"'


def _word(word: str) -> list[str]:
    """The query clauses for one visitor's word (not inside a phrase)."""
    field = None
    if word[:6].lower() == "title:" and ALNUM.search(word[6:]):
        field, word = "title", word[6:]
    if not ALNUM.search(word):
        return []
    prefix = field + ":" if field else ""
    if word.endswith("*"):
        stem = word.rstrip("*")
        if ALNUM.fullmatch(stem):
            start = stem.lower()
            fields = [field] if field else FIELDS
            regexes = [
                f"{name}:/{re.escape(start)}.*/" + (f"^{TITLE_BOOST:g}" if name == "title" else "")
                for name in fields
            ]
            return [*regexes, prefix + _phrase(stem)]
        word = stem
    return [prefix + _phrase(word)]


def safe_query(text: str) -> str:
    """The visitor's text as a tantivy query that means what they typed (see the module docstring)."""
    clauses: list[str] = []
    position = 0
    for match in PHRASE.finditer(text):
        for word in text[position : match.start()].replace('"', " ").split():
            clauses += _word(word)
        field, inner, star = match.groups()
        if ALNUM.search(inner):
            many = len(ALNUM.findall(inner)) > 1
            clauses.append(("title:" if field else "") + _phrase(inner) + ("*" if star and many else ""))
        position = match.end()
    for word in text[position:].replace('"', " ").split():
        clauses += _word(word)
    return " ".join(clauses)


class PeerIndex:
    """A built tantivy index of the papers of one database."""

    def __init__(self, index: tantivy.Index, folder: Path, seconds: float, papers: int, owned: bool):
        self.index = index
        self.folder = folder
        self.seconds = seconds
        self.papers = papers
        self._owned = owned
        self._searcher = index.searcher()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    def query(self, text: str):
        """The parsed query for a visitor's text, or None when there is nothing to look for."""
        safe = safe_query(text)
        if not safe:
            return None
        options = dict(field_boosts={"title": TITLE_BOOST}, conjunction_by_default=False, allow_regexes=True)
        try:
            return self.index.parse_query(safe, FIELDS, **options)
        except ValueError:
            pass
        try:
            return self.index.parse_query_lenient(safe, FIELDS, **options)[0]
        except ValueError:
            return None

    def search(self, text: str, limit: int = DEPTH) -> list[tuple[int, str]]:
        """(id, title) of the best `limit` papers for a visitor's text, best first; never raises for the text."""
        query = self.query(text)
        if query is None:
            return []
        try:
            hits = self._searcher.search(query, limit, count=False).hits
        except ValueError:
            return []
        found = []
        for _score, address in hits:
            document = self._searcher.doc(address)
            found.append((document.get_first("id"), document.get_first("title")))
        return found

    def titles(self, text: str, limit: int = DEPTH) -> list[str]:
        return [title for _, title in self.search(text, limit)]

    def close(self) -> None:
        self._searcher = None
        self.index = None
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PeerIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=False)
    builder.add_text_field("title", stored=True, tokenizer_name=TOKENIZER)
    builder.add_text_field("abstract", stored=False, tokenizer_name=TOKENIZER)
    return builder.build()


def build_index(
    db: Path,
    folder: Path | None = None,
    *,
    threads: int = WRITER_THREADS,
    heap: int = WRITER_HEAP,
) -> PeerIndex:
    """Index the papers of database `db` in `folder` (an empty one), or in a temporary folder removed by close().

    `seconds` covers reading the rows, indexing, the commit and the merges it starts.
    """
    owned = folder is None
    folder = Path(tempfile.mkdtemp(prefix="tantivy-")) if owned else Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            raise ValueError(f"{folder} is not empty")
        started = time.perf_counter()
        index = tantivy.Index(schema(), path=str(folder))
        writer = index.writer(heap, threads)
        papers = 0
        source = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
        try:
            for paper_id, title, abstract in source.execute("select id, title, abstract from papers"):
                writer.add_document(tantivy.Document(id=paper_id, title=title or "", abstract=abstract or ""))
                papers += 1
        finally:
            source.close()
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        seconds = time.perf_counter() - started
    except BaseException:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return PeerIndex(index, folder, seconds, papers, owned)
