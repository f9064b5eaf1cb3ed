"""The query side of search (loader.search) and index-time compounds (loader.text)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from loader import search
from loader.search import (
    MATCH_NOTHING,
    exact_phrases,
    fts_required,
    fts_terms,
    fts_title,
    match_boost,
    parse,
    search_note,
    title_score,
    to_fts_any,
    to_fts_query,
)
from loader.text import compound_terms, joined, search_terms


@pytest.mark.parametrize(
    "typed, query",
    [
        ("contrastive learning", '"contrastive" AND "learning"'),
        ("contrast*", '"contrast"*'),
        ('"masked image modeling"', '"masked image modeling"'),
        # A prefix and a word: indexed under the joined word however the paper writes them (compound_terms).
        ("pre-training", '"pretraining"'),
        ("self-supervised*", '"selfsupervised"*'),
        ("pre-the", '("pre the" OR "prethe")'),  # a stop word is not joined at index time
        ("graph-based", '("graph based" OR "graphbased")'),  # nor a pair without a prefix, when spaced
        ("Swin-UMamba*", '("Swin UMamba"* OR "swinumamba"*)'),
        ("title:probing", 'title : "probing"'),
        ('abstract:"linear probing"', 'abstract : "linear probing"'),
        ("nosuch:word", '("nosuch word" OR "nosuchword")'),
        ("a AND (b OR", '"b"'),  # operators are plain words, and these ones stop words
        ("the of and", '"the" AND "of" AND "and"'),  # unless nothing else is left
        ("^x", '"x"'),
        ('"unclosed phrase', '"unclosed phrase"'),
        ("nul\x00byte\nline", '("nul byte" OR "nulbyte") AND "line"'),
        ("", MATCH_NOTHING),
        ("  * ^ ( ) :", MATCH_NOTHING),
    ],
)
def test_every_term_required(typed, query):
    assert to_fts_query(typed) == query


def test_fallback_needs_the_phrases_and_any_other_term():
    assert to_fts_any('barlow twins mixup "redundancy reduction"') == (
        '"redundancy reduction" AND ("barlow" OR "twins" OR "mixup")'
    )
    assert to_fts_any("covid faq") == '("covid" OR "faq")'
    assert to_fts_any("") == MATCH_NOTHING


def test_queries_are_always_valid_fts5():
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(title, abstract, search_terms, tokenize='porter unicode61')")
    conn.execute("insert into t values ('Attentive probing', 'linear probing of masked image models', 'selfsupervised')")
    for typed in ['"', "'", "a OR", "x" * 5000, "title:", "(((", "*a*", "-x", "\u202e", "NOT", "a-b-c*", 'title:"x y" z']:
        for build in (to_fts_query, to_fts_any):
            conn.execute("select * from t where t match ?", [build(typed)]).fetchall()
    assert conn.execute("select count(*) from t where t match ?", [to_fts_query("prob*")]).fetchone() == (1,)
    assert conn.execute("select count(*) from t where t match ?", [to_fts_query("title:linear")]).fetchone() == (0,)
    assert conn.execute("select count(*) from t where t match ?", [to_fts_query("self-supervised")]).fetchone() == (1,)


def test_at_most_32_terms():
    assert len(parse(" ".join(f"w{i}" for i in range(100)))) == 32


def test_only_the_first_1000_characters_are_read():
    # Fewer than 32 terms, so only the cut at 1,000 characters can leave a term out.
    assert [term.words for term in parse("probing" + " " * 993 + "masked")] == [("probing",)]  # 1,000 then "masked"
    assert [term.words for term in parse("probing" + " " * 990 + "masked")] == [("probing",), ("mas",)]  # cut in the word
    assert [term.words for term in parse("probing" + " " * 989 + "masked")] == [("probing",), ("mask",)]


def test_exact_phrases():
    abstract = "We revisit masked-image modeling. Masked image modelling is popular."
    assert exact_phrases('"masked image modeling"', "T", abstract) == 1  # punctuation between words is fine
    assert exact_phrases('"image modelling is"', "T", abstract) == 1
    assert exact_phrases('"masked image models"', "T", abstract) == 0  # a stem is not the phrase
    assert exact_phrases('"asked image"', "T", abstract) == 0  # whole words only
    assert exact_phrases("no quotes at all", "T", abstract) == 1
    assert exact_phrases(None, None, None) == 1


def test_exact_phrases_as_typed_or_not():
    phrase = '"training datasets"'
    assert exact_phrases(phrase, "T", "large pre-training datasets.") == 1  # as typed; a hyphen ends a word
    assert exact_phrases(phrase, "T", "pretraining datasets, training dataset") == 0  # neither is the phrase
    assert exact_phrases(phrase, "T", "the training datasetsize") == 0
    assert exact_phrases(phrase, "T", "pretraining datasets and Training  Datasets") == 1  # found after lower-casing
    assert exact_phrases(phrase, "Better training", "datasets help") == 1  # from the title into the abstract
    assert exact_phrases('"kernel" "training datasets"', "T", "training datasets for \u212aernel methods") == 1
    assert exact_phrases('"kernel" "training datasets"', "T", "training datasets for kernels") == 0


def test_match_boost_prefers_exact_words_and_words_together():
    title = "LVM-Med: learning from 1.3 million medical images"
    assert match_boost("1.3 million medical images", title, "") == 2.5  # exact, together, in title
    assert match_boost("1.3 million medical images", "Other", "13 million images, 1 medical, 3 more") == 1.5
    assert match_boost("apple", "", "code at github.com/apple/ml-mofi") > match_boost("apple", "", "apples-to-apples")
    assert match_boost("the of", "", "") == 1.0
    assert match_boost("distill*", "", "distillation") == 1.0  # prefixes are not judged on exactness


def test_joined_and_compounds():
    assert joined("Pre-Training") == "pretraining"
    assert compound_terms("Self Supervised pre-training and re‑identification, fine tuning the pre trained") == [
        "pretraining",
        "reidentification",
        "selfsupervised",
        "finetuning",
        "pretrained",
    ]
    assert compound_terms("the pre of") == []  # a stop word after a prefix is not a compound
    assert search_terms("Layer-wise Ensemble", "a state-of-the-art model") == "layerwise stateoftheart"


def test_title_score_counts_query_terms_in_the_title():
    title = "Optimizing Diffusion Transformers with Self-Distillation"
    assert title_score("diffusion transformer", title) == -3.0  # both terms
    assert title_score("optimized diffusion", title) == -3.0  # a stem finds Optimizing
    assert title_score("diffusion language", title) == -2.0
    assert title_score("the of", title) == -1.0  # stop words only: nothing to find
    assert title_score("distill*", title) == -2.0  # a prefix as typed starts Distillation
    assert title_score("trans*", "Translation") == -2.0 and title_score("trans*", "A contrastive") == -1.0
    assert title_score('"self distillation"', title) == -2.0
    assert title_score("gan", "GANs everywhere") == -2.0 and title_score("gans", "Organs") == -1.0
    assert title_score("graph*", "Trees only") == -1.0 and title_score("graph*", None) == -1.0  # no stem anywhere
    assert title_score(None, None) == -1.0
    assert title_score('"training datasets"', "Pre-Training on Data-Sets") == -1.0  # datas starts no word
    assert title_score('"training datasets"', "Pre-Training on Datasets") == -2.0
    assert title_score("kernel", "\u212aernels for all") == -2.0  # the Kelvin sign lower-cases to k
    assert title_score("İzmir", "İzmir") == -1.0  # İ lower-cases to i and a combining dot, which no word holds


def test_filters_name_the_years_the_papers_hold():
    assert search.filters(None, None, 0, 2020, 2025) == ""
    assert search.filters(2023, 2024, 0, 2020, 2025) == " AND search_filters : (py2023 OR py2024)"
    assert search.filters(None, 2021, 0, 2020, 2025) == " AND search_filters : (py2020 OR py2021)"
    assert search.filters(2025, None, 1, 2020, 2025) == " AND search_filters : (py2025) AND search_filters : hascode"
    assert search.filters(0, None, 0, 2024, 2025) == " AND search_filters : (py2024 OR py2025)"  # cast('abc') is 0
    assert search.filters(None, None, 1, None, None) == " AND search_filters : hascode"
    assert search.filters(None, 2024, 0, 1000, 2025) == ""  # centuries of years: left to the test on each row


def test_filters_no_paper_can_pass_match_nothing():
    assert search.filters(2030, None, 0, 2020, 2025) == ' AND ""'
    assert search.filters(2025, 2024, 0, 2020, 2025) == ' AND ""'
    assert search.filters(2024, 2024, 0, None, None) == ' AND ""'  # no paper has a year


async def test_a_prefix_compound_finds_every_spelling_through_the_joined_word_alone(tmp_path):
    """`pre-training` is searched as `pretraining` only: papers writing it spaced, hyphenated or
    joined are all indexed under the joined word (three papers written by hand, one decoy)."""
    from loader.site import datasette_instance
    from tests.test_related import built_from

    papers = [
        ("Spaced", "We study pre training of vision models."),
        ("Hyphenated", "We study pre-training of language models."),
        ("Joined", "We study pretraining of audio models."),
        ("Decoy", "We study training of models before anything else: pre, then training."),
    ]
    response = await datasette_instance(built_from(tmp_path, papers)).client.get(
        "/papers/search.json", params={"q": "pre-training", "_shape": "array"}
    )
    assert {row["title"] for row in response.json() if row["matched"] == 0} == {"Spaced", "Hyphenated", "Joined"}


def test_match_boost_finds_two_words_written_as_one():
    # exact 1 (both words, in the joined word), together 1, in title 1: 1 + 0.5 * 3
    assert match_boost("semi supervised", "Semisupervised Parsing", "") == 2.5
    assert match_boost("semi supervised", "Parsing", "semisupervised") == 2.0  # not in the title
    assert match_boost("1 3", "", "13") == 1.0  # numbers are not joined: 1.3 is not 13


def test_the_some_words_tier_takes_the_stand_ins_of_a_broad_prefix_and_requires_every_phrase():
    # fts_terms: the terms the some-words tier chooses from; fts_required: the phrases it requires.
    def expand(prefix: str):
        return ("apple", "apply") if prefix == "ap" else None

    assert json.loads(fts_terms('ap* probing "linear probing" probing', expand)) == ['("apple" OR "apply")', '"probing"']
    assert json.loads(fts_terms("ap* probing")) == ['"ap"*', '"probing"']  # a prefix nobody finds broad
    assert fts_required('"masked image" ap* "linear probing"', expand) == '"masked image" AND "linear probing" AND '
    assert fts_required("probing ap*", expand) == ""


def test_the_search_note_names_the_stand_ins_of_a_broad_prefix_and_the_prefixes_left_out():
    def expand(prefix: str):
        return ("apple", "apply") if prefix == "ap" else None

    assert search_note("probing ap*") is None  # no prefix is broad without the word sample's say
    assert search_note("ap* probing", expand) == "ap* stands for too many words to search them all: searched apple, apply."
    assert search_note("ab* bc* cd* de* de*") == "de* left out: more than 3 prefixes in one search."  # said once
    assert search_note("ap* bc* cd* de* ef*", expand) == (
        "ap* stands for too many words to search them all: searched apple, apply; "
        "de* left out: more than 3 prefixes in one search; ef* left out: more than 3 prefixes in one search."
    )


def test_words_no_paper_holds_are_left_out_of_every_word_when_a_few_others_are_held():
    def held(expression: str) -> bool:
        return expression in {'"pointer"', '"networks"', '"sorting"', '"a1"', '"a2"', '"a3"', '"a4"', '"a5"'}

    assert to_fts_query("pointer netwrks sorting", held=held) == '"pointer" AND "sorting"'
    assert fts_title("pointer netwrks", held=held) == 'title : "pointer"'
    assert search_note("pointer netwrks", held=held) == "No paper holds netwrks: searched for the papers with every other word first."
    # two words no paper holds: another query, as typed
    assert to_fts_query("pointer netwrks qqqq", held=held) == '"pointer" AND "netwrks" AND "qqqq"'
    assert search_note("pointer netwrks qqqq", held=held) is None
    # a quoted phrase is required, held or not, and a prefix is not asked about; nothing held, or
    # nothing missing: as typed
    assert to_fts_query('"pointer netwrks" sorting qqqq', held=held) == '"pointer netwrks" AND "sorting"'
    assert to_fts_query("qqq* sorting qqqq", held=held) == '"qqq"* AND "sorting"'
    assert to_fts_query("netwrks", held=held) == '"netwrks"'
    assert to_fts_query("pointer networks", held=held) == '"pointer" AND "networks"'
    assert search_note("pointer networks", held=held) is None and search_note("netwrks", held=held) is None
    # more than five words left: a description, searched as typed
    assert to_fts_query("a1 a2 a3 a4 a5 qqqq", held=held) == '"a1" AND "a2" AND "a3" AND "a4" AND "a5"'
    assert to_fts_query("a1 a2 a3 a4 a5 pointer qqqq", held=held).endswith('"pointer" AND "qqqq"')


def test_a_broad_querys_title_candidates_take_the_stand_ins_of_a_broad_prefix():
    def expand(prefix: str):
        return ("apple", "apply") if prefix == "ap" else None

    assert fts_title("ap* probing", expand) == 'title : ("apple" OR "apply") AND title : "probing"'
    assert fts_title("abstract:ap* probing") == '""'  # the titles' index has no abstracts


def test_numbers_are_not_joined_to_the_next_word():
    # "two stage" written "twostage" is the two words together; "2 stage" in "2stage" is not.
    assert match_boost("two stage", "", "a twostage detector") == 2.0
    assert match_boost("2 stage", "", "a 2stage detector") == 1.0


def test_a_broad_prefix_in_a_compound_is_searched_as_the_stand_ins_of_each_form():
    # The phrase keeps its first words before each stand-in; the joined word has stand-ins of its own.
    def expand(prefix: str):
        return {"swinumamba": ("swinumambanet", "swinumambas"), "neur": ("neural", "neuron")}.get(prefix.lower())

    assert to_fts_query("Swin-UMamba*", expand) == '("Swin UMamba"* OR ("swinumambanet" OR "swinumambas"))'
    assert to_fts_query("graph-neur*", expand) == '(("graph neural" OR "graph neuron") OR "graphneur"*)'


def test_the_some_words_tier_takes_the_stand_ins_of_a_broad_prefix_too():
    def expand(prefix: str):
        return ("apple", "apply") if prefix == "ap" else None

    assert to_fts_any('ap* probing "linear probing"', expand) == '"linear probing" AND (("apple" OR "apply") OR "probing")'


def test_up_to_200_years_go_inside_match_and_more_are_left_to_each_row():
    two_hundred = search.filters(1800, 1999, 0, 1800, 2025)
    assert two_hundred == " AND search_filters : (" + " OR ".join(f"py{year}" for year in range(1800, 2000)) + ")"
    assert search.filters(1800, 2000, 0, 1800, 2025) == ""  # 201 years: the condition beside MATCH decides


def test_a_quoted_word_one_letter_into_a_longer_word_is_not_there():
    # The shortcut that finds a phrase as typed must see the letter before it, at the second character too.
    assert exact_phrases('"ask"', "Task force", "") == 0
    assert exact_phrases('"ask"', "Task force", "we ask why") == 1
    assert exact_phrases('"ask"', "Ask me", "") == 1


@pytest.mark.parametrize(
    "typed, query",
    [
        ("title", '"title"'),  # the column names, without a colon, are words
        ("abstract probing", '"abstract" AND "probing"'),
        ("title:a:b", 'title : ("a b" OR "ab")'),  # the first colon names the column
        ("the* probing", '"the"* AND "probing"'),  # a prefix is kept, even of a stop word
        ('"the" probing', '"the" AND "probing"'),  # and so is a quoted one
    ],
)
def test_columns_prefixes_and_quotes_as_typed(typed, query):
    assert to_fts_query(typed) == query


def test_past_the_occurrences_looked_at_one_by_one_a_phrase_is_still_found():
    # Twenty occurrences inside longer words, then (or not) one that stands alone: the scan of
    # the spaced text, and for a word that lower-cases into non-alphanumerics (İ) the pattern, decide.
    assert exact_phrases('"a b"', None, "xa b " * 20) == 0
    assert exact_phrases('"a b"', None, "xa b " * 20 + "a b") == 1
    assert exact_phrases('"\u0130zmir"', None, "x\u0130zmir " * 20) == 0
    assert exact_phrases('"\u0130zmir"', None, "x\u0130zmir " * 20 + "\u0130zmir") == 1
