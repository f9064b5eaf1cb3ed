"""Find every URL in an abstract and tell code repositories from other links.

Abstracts write links in many shapes (trailing `.` or `)`, `.git`, deep links,
`https;//`, no scheme, `at~https://`); each is cleaned to one canonical form so
the same repository mentioned by two papers becomes one row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Hosts whose first two path segments name a code repository.
CODE_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "gitee.com"})
# First path segments on GitHub that are site pages, not owners.
GITHUB_NON_OWNERS = frozenset({"orgs", "features", "topics", "sponsors", "marketplace", "settings", "apps"})

_BARE_HOSTS = r"(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org|gitee\.com|huggingface\.co)/"
URL_RE = re.compile(
    r"(?:https?[:;]//|(?<![\w./@-])" + _BARE_HOSTS + r"|(?<![\w./@-])[\w-]+\.github\.io\b)"
    r"[^\s<>\"'`{}|\\^\[\]]*",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*~"


@dataclass(frozen=True)
class Link:
    """One URL found in an abstract."""

    raw: str  # as written, trailing punctuation excluded
    url: str  # cleaned: scheme fixed, `.git` and trailing slash dropped
    host: str
    kind: str  # code | project | huggingface | arxiv | other
    repo: Repo | None = None
    path: str | None = None  # inside a repository: `tree/main/...`


@dataclass(frozen=True)
class Repo:
    id: str  # host/owner/name, lower-cased: the key that makes mentions meet
    host: str
    owner: str
    name: str
    url: str


# Substrings every URL shape we recognise contains: a cheap test that skips most abstracts.
_URL_HINTS = ("http", "github", "gitlab", "huggingface", "bitbucket", "codeberg", "gitee")


# Every URL that URL_RE finds holds a slash, or is a name under `.github.io`: a text with neither
# (most abstracts) holds none. Checking that costs 3 µs an abstract, where looking for the
# hints of `_url_tokens` costs 30 (a tenth of a parser's time at a million papers).
_GITHUB_IO = re.compile(r"\.github\.io", re.IGNORECASE)


def find_links(text: str) -> list[Link]:
    """Every URL in `text`, in order of appearance, each once."""
    if "/" not in text and not _GITHUB_IO.search(text):
        return []
    links: list[Link] = []
    seen: set[str] = set()
    for start, end in _url_tokens(text):
        for match in URL_RE.finditer(text, start, end):
            raw = _trim(match.group(0))
            link = classify(raw)
            if link is not None and link.url not in seen:
                seen.add(link.url)
                links.append(link)
    return links


def _url_tokens(text: str) -> list[tuple[int, int]]:
    """Spans of the whitespace-free tokens that hold a URL hint, in order.

    A URL never spans whitespace, so `URL_RE` (slow over a whole abstract: it
    may start anywhere) only runs over these few tokens.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer: positions would shift
        return [(0, len(text))]
    spans = set()
    for hint in _URL_HINTS:
        at = lowered.find(hint)
        while at != -1:
            start = at
            while start and not text[start - 1].isspace():
                start -= 1
            end = _TOKEN_REST.match(text, at).end()
            spans.add((start, end))
            at = lowered.find(hint, end)
    return sorted(spans)


_TOKEN_REST = re.compile(r"\S*")


def _trim(candidate: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets from the end of a URL."""
    while candidate:
        last = candidate[-1]
        if last in _TRAILING:
            candidate = candidate[:-1]
        elif last == ")" and candidate.count(")") > candidate.count("("):
            candidate = candidate[:-1]
        else:
            break
    return candidate


def classify(raw: str) -> Link | None:
    """Clean one URL and say what it points at; None if nothing is left of it."""
    url = re.sub(r"^https?[:;]//", lambda m: m.group(0).lower().replace(";", ":"), raw, flags=re.I)
    if not re.match(r"https?://", url):
        url = "https://" + url
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    if not host or "." not in host:
        return None
    path = path.rstrip("/")
    clean = f"{scheme}://{host}" + (f"/{path}" if path else "")  # the path as written: it may hold a URL
    if host in CODE_HOSTS:
        return _code_link(raw, clean, host, [segment for segment in path.split("/") if segment])
    if host.endswith(".github.io"):
        return Link(raw, clean, host, "project")
    if host == "huggingface.co":
        return Link(raw, clean, host, "huggingface")
    if host == "arxiv.org":
        return Link(raw, clean, host, "arxiv")
    return Link(raw, clean, host, "other")


def _code_link(raw: str, clean: str, host: str, segments: list[str]) -> Link:
    if len(segments) < 2 or (host == "github.com" and segments[0].lower() in GITHUB_NON_OWNERS):
        return Link(raw, clean, host, "other")
    owner, name = segments[0], segments[1].removesuffix(".git")
    base = f"https://{host}/{owner}/{name}"
    repo = Repo(id=f"{host}/{owner}/{name}".lower(), host=host, owner=owner, name=name, url=base)
    deep = "/".join(segments[2:]) or None
    return Link(raw, base + (f"/{deep}" if deep else ""), host, "code", repo, deep)
