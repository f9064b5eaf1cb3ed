"""Snippets made on a one-row copy (loader.snippets) are the ones FTS5 makes on the whole index.

Hand-written cases pin the output; a comparison over the real database built
from data/ checks it against snippet() on `papers_fts` itself, the step the
`search` query ran before.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from loader.search import to_fts_any, to_fts_query
from loader.site import datasette_instance
from loader.snippets import Snippets

FILLER = " ".join(f"w{i}" for i in range(50))


@pytest.fixture
def snippet():
    return Snippets()


def test_marks_each_form_of_a_stemmed_word(snippet):
    assert snippet('"cats"', "Pets", "Dogs chase cats. A cat sleeps.", "") == "Dogs chase \x02cats\x03. A \x02cat\x03 sleeps."


def test_marks_every_word_with_the_prefix(snippet):
    abstract = "Combining models is a combination of ideas, not a comb."
    assert snippet(to_fts_query("combi*"), "T", abstract, "") == (
        "\x02Combining\x03 models is a \x02combination\x03 of ideas, not a comb."
    )


def test_marks_a_phrase_and_leaves_its_words_elsewhere(snippet):
    abstract = "Masked image modeling helps. An image is masked."
    assert snippet('"masked image modeling"', "T", abstract, "") == "\x02Masked image modeling\x03 helps. An image is masked."


def test_a_row_matched_by_its_title_or_joined_words_shows_its_abstract_unmarked(snippet):
    assert snippet('"probing"', "Probing models", "Nothing to see.", "") == "Nothing to see."
    assert snippet('"pretraining"', "T", "We pre-train it.", "pretrain") == "We pre-train it."


def test_the_columns_keep_their_filters(snippet):
    assert snippet('title : "cats"', "Cats", "Cats again.", "") == "Cats again."
    assert snippet('abstract : "cats"', "Cats", "Cats again.", "") == "\x02Cats\x03 again."


def test_a_long_abstract_is_cut_to_forty_words_from_the_sentence_with_the_match(snippet):
    abstract = f"An opening sentence without it. Here we find cats. {FILLER}"
    words = FILLER.split()[:36]  # 40 words from "Here": 4 of the sentence, then 36 fillers
    assert snippet('"cats"', "T", abstract, "") == f"…Here we find \x02cats\x03. {' '.join(words)}…"


def test_a_row_that_does_not_match_has_no_snippet(snippet):
    assert snippet('"cats"', "Dogs", "Only dogs.", "") is None


def test_each_call_sees_only_its_own_row(snippet):
    assert snippet('"cats"', "T", "Cats first.", "") == "\x02Cats\x03 first."
    assert snippet('"cats"', "T", "No match here.", "") is None
    assert snippet('"cats" OR "dogs"', "T", "Dogs second.", "") == "\x02Dogs\x03 second."


def test_markup_in_the_text_is_left_for_the_page_to_escape(snippet):
    assert snippet('"cats"', "T", "<b>cats</b> & <i>", "") == "<b>\x02cats\x03</b> & <i>"


def test_same_snippets_as_fts5_over_the_whole_index(papers_db):
    """Every row that each expression matches, both tiers' expressions, on the real data."""
    conn = sqlite3.connect(papers_db)
    snippet = Snippets()
    compared = 0
    for q in ["contrast*", "attentive probing", '"masked image modeling"', "pre-training", "title:probing", "diffus* video"]:
        for match in {to_fts_query(q), to_fts_any(q)}:
            rows = conn.execute(
                "select snippet(papers_fts, 1, char(2), char(3), '…', 40), p.title, p.abstract, p.search_terms"
                " from papers_fts join papers p on p.id = papers_fts.rowid where papers_fts match ?",
                [match],
            ).fetchall()
            assert rows, match
            for expected, *texts in rows:
                assert snippet(match, *texts) == expected, (match, texts[0])
            compared += len(rows)
    assert compared > 100


async def test_the_search_page_marks_a_prefix_in_its_snippets(papers_db):
    response = await datasette_instance(papers_db).client.get(
        "/papers/search.json", params={"q": "contrast*", "_shape": "array"}
    )
    abstracts = dict(sqlite3.connect(papers_db).execute("select id, abstract from papers"))
    rows = [row for row in response.json() if re.search(r"\bcontrast", abstracts[row["id"]], re.I)]
    assert len(rows) > 5
    assert all(re.search("\x02contrast\\w*\x03", row["snippet"], re.I) for row in rows)
