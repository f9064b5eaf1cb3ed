"""`fts_query(text)`: turn anything a visitor types into a safe FTS5 query.

The search box must never answer with an error page, so user input never
reaches MATCH as syntax: words become quoted terms, `"..."` stays a phrase,
a trailing `*` stays a prefix search and `title:`/`abstract:` pick a column.
Everything else (operators, brackets, NUL, `^`) is treated as plain text.
"""

from __future__ import annotations

import re

from datasette import hookimpl

MAX_QUERY_CHARS = 1000  # a longer query is cut: nobody types more, and MATCH cost grows with it
MAX_TERMS = 32
COLUMNS = ("title", "abstract")
MATCH_NOTHING = '""'  # an empty phrase: valid FTS5 that matches no row

_TOKENS = re.compile(r'(?:(\w+):)?"([^"]*)"?|([^\s"]+)')
_WORD = re.compile(r"[^\W_]+")


def to_fts_query(text: str | None) -> str:
    """A valid FTS5 MATCH expression for `text`: all terms required, best match ranked first."""
    terms = []
    for column, phrase, token in _TOKENS.findall((text or "")[:MAX_QUERY_CHARS]):
        term = _token(token) if token else _in_column(column, _phrase(phrase))
        if term:
            terms.append(term)
    return " ".join(terms[:MAX_TERMS]) or MATCH_NOTHING


def _in_column(column: str, term: str | None) -> str | None:
    """Restrict a term to a column the visitor named, if it is one of ours."""
    if term and column.lower() in COLUMNS:
        return f"{column.lower()} : {term}"
    return term


def _quoted(words: list[str]) -> str:
    return '"' + " ".join(words) + '"'


def _phrase(phrase: str) -> str | None:
    words = _WORD.findall(phrase)
    return _quoted(words) if words else None


def _token(token: str) -> str | None:
    column, colon, rest = token.partition(":")
    if colon and column.lower() in COLUMNS:
        return _in_column(column, _token(rest))
    words = _WORD.findall(token)
    if not words:
        return None
    return _quoted(words) + ("*" if token.endswith("*") else "")


@hookimpl
def prepare_connection(conn):
    conn.create_function("fts_query", 1, to_fts_query, deterministic=True)
