"""The honest synthetic crowd (bench/relevance/crowd.py): common words shared, what identifies a paper not."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench import generate as generator
from bench.relevance import crowd
from loader.parser import parse_file

PAPERS = 2000


def crowd_texts(folder: Path) -> list[tuple[str, str]]:
    return [(e.title, e.abstract) for path in sorted(folder.glob("*.txt")) for e in parse_file(str(path))[1]]


@pytest.fixture(scope="module")
def real():
    """The real papers' texts and their rare content word triples, counted here, independently of the generator."""
    papers = crowd.real_papers()
    counts: Counter = Counter()
    for title, abstract in papers.values():
        tokens = crowd.words(f"{title}\n{abstract}")
        counts.update({t for t in zip(tokens, tokens[1:], tokens[2:]) if not crowd.STOP_WORDS.intersection(t)})
    rare = {t for t, n in counts.items() if n < crowd.MIN_PAPERS}
    return papers, rare


@pytest.fixture(scope="module")
def crowds(tmp_path_factory):
    made = {}
    for honest in (False, True):
        folder = tmp_path_factory.mktemp("honest" if honest else "plain")
        crowd.generate(PAPERS, folder, 2, seed=0, honest=honest)
        made[honest] = crowd_texts(folder)
    return made


def rare_triples_in(texts, rare) -> set:
    found = set()
    for title, abstract in texts:
        for part in (title, abstract):
            tokens = crowd.words(part)
            found |= set(zip(tokens, tokens[1:], tokens[2:])) & rare
    return found


def test_the_honest_crowd_copies_almost_none_of_the_real_papers_own_word_triples(real, crowds):
    """A rare triple ("pretrained hierarchical transformer") makes a synthetic paper a partial clone of its source."""
    _, rare = real
    plain, honest = rare_triples_in(crowds[False], rare), rare_triples_in(crowds[True], rare)
    assert len(plain) > 0.2 * len(rare)  # the plain generator copies runs of real text
    # What remains comes from the generator's own link sentences ("project website https") and
    # from where two generated sentences meet ("a novel. Deep learning"); within one, none (below).
    assert len(honest) < 0.03 * len(rare)


def test_a_walk_never_writes_a_rare_triple_within_a_title_or_sentence(real, tmp_path):
    papers, _ = real
    copy = crowd.honest_source(tmp_path / "source")
    model = generator.load_model(copy, crowd.MIN_PAPERS)
    avoid = model.abstracts.avoid
    assert ("pretrained", "hierarchical", "transformer") in avoid  # one real paper's: GPHT
    rng = generator.random.Random(7)
    topics = len(model.abstracts.doc_starts)
    for index in range(2000):
        sentence = generator._sentence(rng.random, model.abstracts, index % topics)
        title = generator._walk(rng.random, model.titles, 12, generator.TITLE_RUNS)
        for text in (sentence, title):
            assert not generator.content_triples(crowd.words(" ".join(text))) & avoid, text
    generator.load_model.cache_clear()


def test_the_honest_crowd_keeps_the_common_words_as_common_as_in_real_text(real, crowds):
    papers, _ = real

    def shares(abstracts: list[str]) -> Counter:
        counts: Counter = Counter()
        for abstract in abstracts:
            counts.update(set(crowd.words(abstract)))
        return Counter({w: n / len(abstracts) for w, n in counts.items()})

    real_share = shares([abstract for _, abstract in papers.values()])
    honest_share = shares([abstract for _, abstract in crowds[True]])
    commonest = [w for w, _ in real_share.most_common(300)]
    mean_gap = sum(abs(real_share[w] - honest_share[w]) for w in commonest) / len(commonest)
    assert mean_gap < 0.04
    assert 0.4 < honest_share["model"] < 0.9
