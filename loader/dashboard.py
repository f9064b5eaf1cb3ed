"""The Trends dashboard as metadata.yml declares it: its charts' SQL, and where each chart's data comes from.

datasette-dashboards draws a chart in the browser from the JSON of its SQL,
run as `/<db>.json?sql=...` with the dashboard's filters as parameters (see
its dashboards.js, `getDataUrl`). The site's own plugins (plugins/fair_share.py),
the tests and the benchmarks need the same SQL and the same URLs: they are
read from here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

PLUGIN = "datasette-dashboards"
TRENDS = "trends"
PATH = f"/-/dashboards/{TRENDS}"


def dashboards(metadata: dict[str, Any]) -> dict[str, Any]:
    """Every dashboard, by slug, from metadata.yml (or from Datasette's `plugin_config`)."""
    return (metadata.get("plugins") or {}).get(PLUGIN) or {}


def chart_queries(config: dict[str, Any]) -> frozenset[str]:
    """The SQL of every chart of every dashboard in a `datasette-dashboards` plugin config."""
    return frozenset(
        chart["query"] for dashboard in config.values() for chart in (dashboard.get("charts") or {}).values() if "query" in chart
    )


def chart_data_paths(metadata: dict[str, Any], filters: dict[str, str] | None = None) -> dict[str, str]:
    """Each chart of the Trends dashboard and the path its data is fetched from, with `filters` as
    the dashboard passes them (only those the dashboard declares, as its query string)."""
    dashboard = dashboards(metadata)[TRENDS]
    declared = {key: value for key, value in (filters or {}).items() if key in dashboard.get("filters", {})}
    query_string = urlencode(declared)
    return {
        slug: f"/{chart['db']}.json?sql={quote(chart['query'], safe='')}&{query_string}&_shape=objects"
        for slug, chart in dashboard["charts"].items()
    }
