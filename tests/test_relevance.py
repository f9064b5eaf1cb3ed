"""The relevance benchmark, run with floors so ranking can only get better.

Floors are the issue's targets (Recall@5 >= 0.95, MRR >= 0.90 overall) and,
per query class, the baseline measured in the same run.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.relevance.evaluate import evaluate, load_judgements


@pytest.fixture(scope="module")
def report(papers_db):
    return asyncio.run(evaluate(papers_db))


def test_judgements_cover_every_class_with_enough_queries():
    queries, pairs = load_judgements()
    classes = {}
    for query in queries:
        classes[query.kind] = classes.get(query.kind, 0) + 1
    assert len(queries) >= 40 and len(pairs) >= 10
    tuned = {"compound", "partial", "title", "name", "number", "owner", "prefix", "paraphrase", "phrase", "description"}
    typos = {"typo", "typo spelt right", "held-out typo", "held-out typo spelt right"}
    assert set(classes) == tuned | typos | {"held-out partial", "held-out paraphrase", "held-out description"}
    assert min(classes.values()) >= 5 and classes["held-out partial"] == classes["held-out paraphrase"] == 15
    assert classes["description"] >= 40 and classes["held-out description"] == 10
    assert classes["typo"] == classes["typo spelt right"] >= 40 and classes["held-out typo"] == 10


def test_each_typo_query_is_its_query_spelt_right_with_one_word_misspelt():
    queries = load_judgements()[0]
    for kind in ("typo", "held-out typo"):
        typed = [q for q in queries if q.kind == kind]
        spelt = [q for q in queries if q.kind == f"{kind} spelt right"]
        for a, b in zip(typed, spelt, strict=True):
            assert a.expected == b.expected
            words, right = a.q.split(), b.q.split()
            differ = [(x, y) for x, y in zip(words, right) if x != y]
            # one word misspelt, or one written as two (or two as one)
            assert len(differ) == 1 and len(words) == len(right) or abs(len(words) - len(right)) == 1, (a.q, b.q)


def test_overall_targets(report):
    recall_1, recall_5, mrr = report.ours["all"].summary
    assert recall_5 >= 0.95, report.table()
    assert mrr >= 0.90, report.table()


def test_never_worse_than_the_baseline_on_any_class(report):
    for kind, scores in report.ours.items():
        ours, baseline = scores.summary, report.baseline[kind].summary
        for name, mine, theirs in zip(("R@1", "R@5", "MRR"), ours, baseline):
            assert mine >= theirs, f"{kind} {name}: ours {mine:.3f} < baseline {theirs:.3f}\n{report.table()}"


def test_related_pairs_found(report):
    assert report.related_found / report.related_total >= 0.75, report.table()


def test_the_ablation_can_switch_off_every_technique_of_the_shipped_search():
    """The ablation edits the `search` SQL by text: an edit that no longer applies must fail here, not in a docs run."""
    import yaml

    from bench.relevance.ablation import NONE, fts_any_plain, fts_query_plain, variant_metadata
    from loader.site import METADATA

    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    sql = variant_metadata(metadata, NONE)["databases"]["papers"]["queries"]["search"]["sql"]
    assert "match_boost(" not in sql and "exact_phrases(" not in sql and "fts_query_plain(:q)" in sql
    assert fts_query_plain("pre-training") == '"pre training"'  # the phrase alone, no joined word
    assert fts_any_plain("pre-training") == '("pre training")'
