"""The table pages, answered from memory when the same page of the same file version was asked before.

A table page with its default facets counts over every row: at a million papers that is
several `group by` scans a request (docs/benchmarks.md), though the answer cannot change
until a build replaces the file. So a server process keeps the answers of the table pages
it served, for the version of the database file it opened (its path, device, inode, size and
modification time, `loader.versions.path_version`), keyed by everything in the request that
changes the answer: the path, the query string, the host and scheme the page's absolute
links are made from. A rebuilt file has a new version, so an answer of the old one is
never found again. A server process pins the file it opened (`loader/site.py`), so its version
never changes; an instance that sees the file at its path replaced (the tests' in-process
sites, or a server that could not pin) may still be reading the old file through connections
it opened before, so its cache forgets every answer and keeps no more.

Only what is the same for every visitor is kept: GET requests without cookies or
credentials (an actor could see other pages; Datasette's answers say `Vary: Cookie,
Authorization`), answered 200 without a cookie set; and only
a whole answer: a page with a facet cut off by `facet_time_limit_ms` (a busy moment) is
not kept, nor JSON whose count was cut off, or every later visitor would get it too. The
answers are held in at most `MAX_BYTES` (bodies, headers and keys counted), the least
recently used going first, so no query string, however many or however long, grows the
process past it (the plugin setting `page-cache: max_bytes` changes the bound).
`/-/page-cache.json` reports the entries, bytes, bound, hits and misses.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import NamedTuple
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

from datasette import hookimpl
from datasette.utils.asgi import Response

from loader.versions import path_version

# The pages kept: each table with default facets, as HTML and as JSON.
CACHED_PATHS = frozenset(
    f"/papers/{table}{suffix}" for table in ("papers", "repos", "appearances") for suffix in ("", ".json")
)
PLUGIN = "page-cache"
MAX_BYTES = 32 << 20  # unless the plugin's `max_bytes` says otherwise
REPORT_PATH = "/-/page-cache.json"
# Request headers that can make an answer one visitor's own: such a request is neither kept nor served from memory.
PER_VISITOR = frozenset({b"cookie", b"authorization"})

Key = tuple


class Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    size: int


class PageCache:
    """Answers by key, least recently used first, within `bound` bytes, for one version of the files.

    (A plain class: Datasette runs plugins/ files as modules outside sys.modules, where dataclasses fail.)"""

    def __init__(self, version: tuple, bound: int = MAX_BYTES) -> None:
        self.version = version
        self.bound = bound
        self.following = True  # False once the files changed under the instance: nothing is kept any more
        self.answers: OrderedDict[Key, Answer] = OrderedDict()
        self.size = self.hits = self.misses = 0

    def follows(self, version: tuple) -> bool:
        """Whether answers for `version` may be kept and served; forgets them all once the files changed."""
        if self.following and version != self.version:
            self.following = False
            self.answers.clear()
            self.size = 0
        return self.following

    def get(self, key: Key) -> Answer | None:
        answer = self.answers.get(key)
        if answer is None:
            self.misses += 1
            return None
        self.answers.move_to_end(key)
        self.hits += 1
        return answer

    def put(self, key: Key, answer: Answer) -> None:
        if answer.size > self.bound:
            return
        old = self.answers.pop(key, None)
        if old is not None:
            self.size -= old.size
        self.answers[key] = answer
        self.size += answer.size
        while self.size > self.bound:
            _, evicted = self.answers.popitem(last=False)
            self.size -= evicted.size

    def report(self) -> dict:
        return {
            "entries": len(self.answers),
            "bytes": self.size,
            "bound_bytes": self.bound,
            "hits": self.hits,
            "misses": self.misses,
            "following_the_file": self.following,
        }


# One cache per Datasette instance (Datasette builds a new ASGI app for its test client and for
# the server; both must share it), held no longer than the instance.
_CACHES: WeakKeyDictionary = WeakKeyDictionary()


def cache_of(datasette) -> PageCache:
    return kept_for(datasette, _CACHES, PLUGIN, MAX_BYTES)


def kept_for(datasette, store: WeakKeyDictionary, plugin: str, max_bytes: int) -> PageCache:
    """The instance's cache in `store`, made on first use, bounded by the plugin's `max_bytes` setting or `max_bytes`."""
    if datasette not in store:
        bound = (datasette.plugin_config(plugin) or {}).get("max_bytes", max_bytes)
        store[datasette] = PageCache(files_version(datasette), bound=int(bound))
    return store[datasette]


def files_version(datasette) -> tuple:
    """The version of every database file the instance serves: a rebuild of any of them changes it."""
    return tuple(path_version(db.path) for db in datasette.databases.values() if db.path)


def cache_key(datasette, scope: dict) -> Key | None:
    """What identifies the answer to this request, or None when it must not be kept or served from memory."""
    if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") not in CACHED_PATHS:
        return None
    headers = dict(scope.get("headers") or [])
    if PER_VISITOR & headers.keys() or not cache_of(datasette).follows(files_version(datasette)):
        return None
    return (scope["path"], scope.get("query_string", b""), headers.get(b"host", b""), scope.get("scheme", "http"))


# The parameters that ask a table page for a facet, and what its HTML shows when one ran out of
# time (Datasette's template, table.html).
FACET_PARAMETERS = frozenset({"_facet", "_facet_array", "_facet_date", "_facet_counted"})
FACETS_TIMED_OUT_HTML = b'class="facets-timed-out"'


def storable(datasette, scope: dict, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
    """A 200 that sets no cookie and is whole: nothing in it was cut off by a time limit."""
    if status != 200 or any(name.lower() == b"set-cookie" for name, _ in headers):
        return False
    if not scope["path"].endswith(".json"):
        return FACETS_TIMED_OUT_HTML not in body
    try:
        data = json.loads(body)
    except ValueError:  # one row a line (`_nl`): rows only
        return True
    if not isinstance(data, dict) or "facet_results" not in data:  # a shape of rows only (`_shape=array`...)
        return True
    # The JSON leaves a facet that timed out out, and a count that did has no value.
    asked = facets_asked(datasette, scope)
    return asked <= set(data["facet_results"]) and data.get("filtered_table_rows_count") is not None


def facets_asked(datasette, scope: dict) -> set[str]:
    """The columns a table page facets on: the table's default facets and the request's `_facet*`."""
    args = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if any(name == "_nofacet" for name, _ in args):
        return set()
    _, database, table = scope["path"].removesuffix(".json").split("/")
    defaults = datasette.table_metadata(database, table).get("facets", [])
    asked = {facet if isinstance(facet, str) else next(iter(facet.values())) for facet in defaults}
    return asked | {value for name, value in args if name in FACET_PARAMETERS}


class ServeFromMemory:
    """ASGI middleware: the table pages' answers, kept by `cache_key`."""

    def __init__(self, app, datasette) -> None:
        self.app = app
        self.datasette = datasette

    async def __call__(self, scope, receive, send) -> None:
        key = cache_key(self.datasette, scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        cache = cache_of(self.datasette)
        answer = cache.get(key)
        if answer is None:
            await self._answer_and_keep(scope, receive, send, cache, key)
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer_and_keep(self, scope, receive, send, cache: PageCache, key: Key) -> None:
        """Pass the answer on as the site writes it, and keep a copy once it is whole and storable."""
        start: dict = {}
        chunks: list[bytes] = []

        async def keep(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    keep_whole(b"".join(chunks))
            await send(message)

        def keep_whole(body: bytes) -> None:
            headers = [(bytes(name), bytes(value)) for name, value in start.get("headers", [])]
            if storable(self.datasette, scope, start["status"], headers, body):
                size = len(body) + sum(len(n) + len(v) for n, v in headers) + sum(len(str(part)) for part in key)
                cache.put(key, Answer(start["status"], headers, body, size))

        await self.app(scope, receive, keep)


async def report(datasette):
    return Response.json(cache_of(datasette).report())


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: ServeFromMemory(app, datasette)


@hookimpl
def register_routes():
    return [(rf"^{re.escape(REPORT_PATH)}$", report)]
