"""The paper page: the paper itself, its code links, the listings it appeared on and related papers.

Datasette's row page shows the columns of one paper; readers also want what
points at it. The data comes from three small indexed queries, run only for
the row page of the `papers` table, plus the `related` saved query of
`metadata.yml` (declared there once), and is rendered by
`templates/row-papers-papers.html` with autoescaping on.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils import tilde_encode

PAPER_SQL = """
select id, title, abstract, published, authors_count, organisation, appearances, latest_upvotes,
    first_seen, last_seen
from papers where id = :id
"""
LINKS_SQL = """
select url, kind, repo_id, path from links where paper_id = :id order by ordinal
"""
LISTINGS_SQL = """
select a.dump, a.position, a.upvotes, a.date_printed, d.page_date, d.capture_date
from appearances a join dumps d on d.name = a.dump
where a.paper_id = :id
order by d.capture_date is null, d.capture_date desc, a.dump
"""


async def paper_context(datasette, database: str, paper_id: str) -> dict:
    db = datasette.get_database(database)
    params = {"id": paper_id}

    async def rows(sql: str) -> list[dict]:
        return [dict(row) for row in await db.execute(sql, params)]

    def row_url(table: str, key: object) -> str:
        return datasette.urls.row(database, table, tilde_encode(str(key)))

    related = await datasette.get_canned_query(database, "related", None)
    return {
        "paper": next(iter(await rows(PAPER_SQL)), None),
        "paper_links": await rows(LINKS_SQL),
        "paper_listings": await rows(LISTINGS_SQL),
        "paper_related": await rows(related["sql"]),
        "row_url": row_url,
    }


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if view_name != "row" or table != "papers":
        return {}
    paper_id = request.url_vars.get("pks", "")

    async def inner():
        return await paper_context(datasette, database, paper_id)

    return inner
