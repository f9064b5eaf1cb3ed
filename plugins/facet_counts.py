"""A table's facet counts, counted once per version of the database file, whatever page shows them.

A table page counts its default facets over every row its filters keep: at a million papers
the papers page's four counts take about 260 ms, the listings page's 110 ms (docs/benchmarks.md),
on every page of the table, though the counts are the same whatever its sort, page (`_next`),
size or any other argument that does not filter, and cannot change until a build replaces the
file. So the default facets (metadata.yml) are of type `counted`: Datasette's column facet,
whose count query is answered from memory when the same query (its SQL and parameters) was
counted before on the same version of the files. Each page still makes its own links and labels.

The counts are kept like the table pages (`plugins/page_cache.py`, whose cache this uses): for
the version of the files the instance opened, forgotten when a rebuild replaces them, within
`MAX_BYTES` (or the plugin setting `facet-counts: max_bytes`), the least recently used going
first. A count cut off by `facet_time_limit_ms` is not kept. `/-/facet-counts.json` reports them.

A server process counts every table's default facets as soon as it serves
(`count_default_facets`, called by `loader.site`), so that no visitor waits for them, not
even the first after a rebuild.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from weakref import WeakKeyDictionary

from datasette import hookimpl
from datasette.facets import ColumnFacet
from datasette.utils.asgi import Response

from plugins.page_cache import PageCache, files_version, kept_for

PLUGIN = "facet-counts"
MAX_BYTES = 4 << 20  # unless the plugin's `max_bytes` says otherwise; a count of 31 values is a few kB
REPORT_PATH = "/-/facet-counts.json"


class Counted(NamedTuple):
    results: object  # Datasette's Results: the rows, whether truncated, the columns
    size: int


class KeptCounts:
    """Datasette as a facet sees it, whose `execute` answers a count it made before from memory."""

    def __init__(self, datasette) -> None:
        self._datasette = datasette

    def __getattr__(self, name: str):
        return getattr(self._datasette, name)

    async def execute(self, database: str, sql: str, params=None, **options):
        cache = counts_of(self._datasette)
        key = (database, sql, repr(params))
        if not cache.follows(files_version(self._datasette)):
            return await self._datasette.execute(database, sql, params, **options)
        kept = cache.get(key)
        if kept is None:  # a count that runs out of time raises, and is not kept
            results = await self._datasette.execute(database, sql, params, **options)
            kept = Counted(results, sum(len(repr(tuple(row))) for row in results.rows) + len(repr(key)))
            cache.put(key, kept)
        return kept.results


class CountedFacet(ColumnFacet):
    """A column facet whose counts are kept for the file's version (see the module's docstring)."""

    type = "counted"

    def __init__(self, datasette, *args, **kwargs) -> None:
        super().__init__(KeptCounts(datasette), *args, **kwargs)


# One store per Datasette instance, held no longer than the instance (as the page cache's).
_COUNTS: WeakKeyDictionary = WeakKeyDictionary()


def counts_of(datasette) -> PageCache:
    return kept_for(datasette, _COUNTS, PLUGIN, MAX_BYTES)


async def count_default_facets(datasette) -> None:
    """Ask each table with default facets for its page of no rows: Datasette counts its facets, and they are kept."""
    for database in datasette.databases:
        for table, metadata in (datasette.metadata("tables", database=database) or {}).items():
            if metadata.get("facets"):
                await datasette.client.get(datasette.urls.table(database, table, format="json"), params={"_size": "0"})


async def report(datasette):
    return Response.json(counts_of(datasette).report())


@hookimpl
def register_facet_classes():
    return [CountedFacet]


@hookimpl
def register_routes():
    return [(rf"^{re.escape(REPORT_PATH)}$", report)]
