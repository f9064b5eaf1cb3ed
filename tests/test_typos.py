"""Typos: "did you mean" and the words meant searched beside the typed ones (loader/spelling.py).

On the database built from data/ (every paper is in the sample), and on a small corpus written
here where one abstract misspells a word that 60 others spell right. Expected words and papers
are written by hand from the dumps or counted with plain SQL.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from bench.relevance.evaluate import load_judgements
from loader.prefixes import Prefixes, of_database
from loader.search import to_fts_any, to_fts_query
from loader.site import datasette_instance
from loader.spelling import Corrections, Speller, english_words, of_connection

ROOT = Path(__file__).resolve().parent.parent
POINTER_NETWORKS = "Pointer Networks"


@pytest.fixture(scope="module")
def site(papers_db):
    return datasette_instance(papers_db)


async def search(site, q: str, **params) -> list[dict]:
    response = await site.client.get("/papers/search.json", params={"q": q, "_shape": "array", "mode": "words", **params})
    assert response.status_code == 200, response.text[:300]
    return response.json()


def papers_holding(db: Path, pattern: str) -> set[str]:
    """Titles of the papers whose title or abstract matches the regular expression (any case)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select title, abstract from papers").fetchall()
    return {title for title, abstract in rows if re.search(pattern, f"{title}\n{abstract}", re.IGNORECASE)}


async def test_a_misspelt_word_finds_the_papers_of_the_word_meant_and_each_card_says_why(site, papers_db):
    rows = await search(site, "tranformer")
    # FTS5 stems transformer, transformers and transform alike
    assert {row["title"] for row in rows} <= papers_holding(papers_db, r"\btransform")
    assert len(rows) == 50  # more than 50 papers write one of them
    assert {row["suggestion"] for row in rows} == {"transformer"}
    with_the_word = papers_holding(papers_db, r"\btransformer\b")
    for row in rows:  # the card says so where the paper writes the word meant
        assert row["respelled"] == ("transformer for tranformer" if row["title"] in with_the_word else None), row["title"]


async def test_one_misspelt_word_among_several_still_finds_the_paper(site):
    rows = await search(site, "pointer netwroks convex hull")
    assert rows[0]["title"] == POINTER_NETWORKS
    assert rows[0]["suggestion"] == "pointer networks convex hull"
    assert rows[0]["why"] == "every word"  # with the word meant, the paper holds every word


async def test_the_page_offers_the_corrected_query_with_the_corrected_word_marked_and_the_filters_kept(site):
    response = await site.client.get("/papers/search", params={"q": "Pointer netwroks", "mode": "words", "year_from": "2015"})
    assert response.status_code == 200
    [offer] = re.findall(r'<p class="did-you-mean">(.*?)</p>', response.text)
    assert offer == (
        'Did you mean <a href="?q=Pointer+networks&amp;mode=words&amp;year_from=2015">Pointer <strong>networks</strong></a>?'
    )
    assert '<span class="respelled">found by networks for netwroks</span>' in response.text


async def test_a_suggestion_is_offered_when_nothing_is_found_and_markup_in_the_query_stays_text(site):
    response = await site.client.get("/papers/search", params={"q": "<i>x</i> difusion", "year_from": "1990", "year_to": "1991"})
    assert response.status_code == 200
    assert 'class="zero-results"' in response.text
    [offer] = re.findall(r'<p class="did-you-mean">(.*?)</p>', response.text)
    assert "&lt;i&gt;x&lt;/i&gt; <strong>diffusion</strong>" in offer and "<i>" not in offer


async def test_no_offer_and_no_change_for_a_query_spelt_right(site):
    response = await site.client.get("/papers/search", params={"q": "pointer networks", "mode": "words"})
    assert 'class="did-you-mean"' not in response.text
    rows = await search(site, "pointer networks")
    assert {row["suggestion"] for row in rows} == {None} and {row["respelled"] for row in rows} == {None}


def test_every_judged_query_that_uses_the_papers_own_words_is_searched_exactly_as_before(papers_db):
    """The benchmark's known-item queries are spelt right: no correction, the same MATCH expressions."""
    conn = sqlite3.connect(papers_db)
    corrections, expand = of_connection(conn), of_database(conn).expansion
    own_words = [q.q for q in load_judgements()[0] if q.kind.removeprefix("held-out ") not in ("typo", "description", "paraphrase")]
    assert len(own_words) > 100
    for q in own_words:
        assert corrections.of(q) == {}, q
        for to_fts in (to_fts_query, to_fts_any):
            assert to_fts(q, expand, corrections.alternatives) == to_fts(q, expand), q


def test_names_and_words_the_corpus_writes_stay_as_typed(papers_db):
    corrections = of_connection(sqlite3.connect(papers_db))
    for name in ("UL2", "TabPFN", "tabpfn", "Wukong", "wukong", "CroCo", "MDETR", "SparK", "Swin", "mixup", "apple"):
        assert corrections.suggestion(name) is None, name
    # English words the 255 papers never write are not "corrected" into words they do
    for word in ("dying", "catches", "unlimited", "teach"):
        assert corrections.suggestion(word) is None, word
    # nor one whose -ing or -ed took the place of an e: `smiling` is not `sampling`, `riding` not `rising`
    for word in ("smiling", "riding", "dancing", "waving"):
        assert corrections.suggestion(word) is None, word
    # nor is another form of a word they write (tumors is not tumor)
    assert corrections.suggestion("regularizer blends") is None


def test_an_ending_in_place_of_an_e_makes_a_word_english_only_for_a_dictionary_word(papers_db):
    """`taging` read as `tage` + -ing, and the lexicon (LLaMA's whole-word tokens) holds `tage`, a piece
    of German: it was left as typed. The dictionary has no `tage`; the papers write `tagging` (PANNs)."""
    corrections = of_connection(sqlite3.connect(papers_db))
    assert "tage" in english_words() and papers_holding(papers_db, r"\btagging\b")
    assert corrections.suggestion("pre-trained audio taging") == "pre-trained audio tagging"
    assert corrections.suggestion("smiling") is None  # `smile` is in the dictionary


def test_the_single_word_typos_of_the_benchmark_get_the_word_meant(papers_db):
    """bench/relevance/typos.yml, written by hand: each misspelling and the word meant (None: stays)."""
    corrections = of_connection(sqlite3.connect(papers_db))
    typos = yaml.safe_load((ROOT / "bench" / "relevance" / "typos.yml").read_text(encoding="utf-8"))["typos"]
    assert len(typos) >= 30
    for typo in typos:
        assert corrections.suggestion(typo["typed"]) == typo["correction"], typo


def test_two_words_run_together_and_a_word_split_in_two(papers_db):
    corrections = of_connection(sqlite3.connect(papers_db))
    assert corrections.suggestion("pointernetworks") == "pointer networks"
    assert corrections.suggestion("hyper networks magnitude") == "hypernetworks magnitude"
    assert corrections.suggestion("codebook") is None  # too short to be taken for two words


def test_a_misspelt_part_of_a_hyphenated_compound_is_corrected_and_the_hyphen_kept(papers_db):
    corrections = of_connection(sqlite3.connect(papers_db))
    assert corrections.suggestion("infrared pre-trainnig") == "infrared pre-training"
    assert corrections.suggestion("Semantic-Segmentaton") == "Semantic-segmentation"
    assert corrections.suggestion("attention pre-trained") is None  # both parts spelt right
    assert corrections.suggestion("UNIP-S") is None  # a name, and too short to correct


async def test_a_compound_with_a_misspelt_part_finds_the_paper_and_is_searched_by_its_joined_word(site, papers_db):
    rows = await search(site, "infrared attention patterns pre-trainnig")
    assert rows[0]["title"] == "UNIP: Rethinking Pre-trained Attention Patterns for Infrared Semantic Segmentation"
    assert rows[0]["suggestion"] == "infrared attention patterns pre-training"
    assert rows[0]["why"] == "every word"
    # A prefix compound is searched as its joined word, as when it is spelt right: not the phrase of
    # two very common words (loader.search.Term.indexed_joined).
    conn = sqlite3.connect(papers_db)
    expression = to_fts_query("pre-trainnig", None, of_connection(conn).alternatives)
    assert expression == '("pretrainnig" OR "pretraining")'


def test_two_slips_in_one_word_are_corrected_when_they_leave_out_or_swap_letters(papers_db):
    corrections = of_connection(sqlite3.connect(papers_db))
    assert corrections.suggestion("atenton") == "attention"  # two letters left out
    assert corrections.suggestion("qunatizaiton") == "quantization"  # two pairs swapped
    assert corrections.suggestion("tansformr") == "transformer"  # two letters left out, no word one edit away
    # no paper writes `lottery`; `latter` is two slips away, but one of them an added letter: a word spelt right
    assert corrections.suggestion("lottery") is None
    assert corrections.suggestion("ntwrk") is None  # `network` less two letters, but too short to tell


def test_an_english_word_one_edit_away_is_meant_even_when_the_sample_lacks_it(papers_db):
    """On a large database the sample may lack `optimizer`; `optimzer` still means it, not the
    sample's `optimized` two edits away that FTS5 stems alike (both `optim`). A word one edit away
    that no paper writes (`reinforcment`) is still spelt as the word two edits away."""
    conn = sqlite3.connect(papers_db)
    real = of_database(conn)
    sample = Prefixes({w: n for w, n in real.counts.items() if not w.startswith("optimizer")}, real.papers, real.papers)
    corrections = Corrections(conn, Speller(sample))
    assert "optimized" in sample.counts and "optimizer" not in sample.counts
    assert corrections.suggestion("optimzer") == "optimizer"
    assert corrections.suggestion("reinforcmnet") == "reinforcement"


def test_words_too_short_or_too_long_to_correct(papers_db):
    corrections = of_connection(sqlite3.connect(papers_db))
    assert corrections.suggestion("difusion") == "diffusion"
    assert corrections.suggestion("lern") is None  # 4 letters: too many words one edit away
    assert corrections.suggestion("x" * 31) is None and corrections.suggestion("x" * 1000) is None


@pytest.fixture(scope="module")
def one_misspelling(tmp_path_factory):
    """60 papers about source separation, and one abstract that writes "seperation"."""
    from tests.test_related import built_from

    papers = [(f"Audio study {i}", f"We improve source separation of recording {i}.") for i in range(60)]
    papers.append(("Quokka vocal tract", "Quokka calls and their seperation from wind noise."))
    return built_from(tmp_path_factory.mktemp("seperation"), papers)


async def test_a_misspelling_a_few_abstracts_write_is_corrected_and_searched_beside_the_typed_word(one_misspelling):
    rows = await search(datasette_instance(one_misspelling), "seperation")
    titles = [row["title"] for row in rows]
    # the paper that writes it as typed, and the 60 that spell it right (50 shown)
    assert "Quokka vocal tract" in titles and len(titles) == 50
    assert {row["suggestion"] for row in rows} == {"separation"}
    respelled = {row["title"]: row["respelled"] for row in rows}
    assert respelled["Quokka vocal tract"] is None and respelled["Audio study 1"] == "separation for seperation"


def test_a_rare_word_in_a_title_is_a_name_and_stays(one_misspelling, tmp_path):
    """The same corpus with the misspelling moved into the paper's title, where names stand."""
    assert of_connection(sqlite3.connect(one_misspelling)).correction("seperation") is not None
    copy = tmp_path / "copy.db"
    with sqlite3.connect(one_misspelling) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:  # the index follows through the papers' triggers
        conn.execute("update papers set title = 'Seperation of quokka calls' where title = 'Quokka vocal tract'")
    assert of_connection(sqlite3.connect(copy)).correction("seperation") is None


@pytest.fixture(scope="module")
def two_papers_beyond_the_sample(tmp_path_factory):
    """6,000 papers about networks; two of them (written by hand) about quokkalogy, both beyond the
    5,000 lowest ids that the sample of words counts."""
    from tests.test_related import built_from

    papers = [(f"Network study number {i}", f"A network for task {i} on benchmark {i % 97}.") for i in range(6000)]
    papers[100] = ("Island fauna after the fire", "Quokkalogy, the study of quokkas, counts them from the sea.")
    papers[4100] = ("Counting quokkas by night", "We bring quokkalogy to the mainland.")
    return built_from(tmp_path_factory.mktemp("beyond"), papers)


async def test_a_word_held_nowhere_means_the_word_one_edit_away_that_only_two_papers_write(two_papers_beyond_the_sample):
    """At a million papers a paper's own rare word (`pathology` in 2 papers) had no typo of it
    corrected: the word meant had to be in the sample, the lexicon or 3 papers."""
    db = two_papers_beyond_the_sample
    conn = sqlite3.connect(db)
    [(five_thousandth,)] = conn.execute("select id from papers order by id limit 1 offset 4999")
    quokkalogy = {title for title, pid in conn.execute("select title, id from papers where abstract like '%quokkalogy%'")
                  if pid > five_thousandth}
    speller = Speller(of_database(conn))
    assert len(quokkalogy) == 2 and not speller.knows("quokkalogy"), "the sample holds the word: no test"
    assert of_connection(conn).suggestion("quokalogy") == "quokkalogy"
    conn.close()
    rows = await search(datasette_instance(db), "quokalogy")
    assert {row["title"] for row in rows} == quokkalogy
    assert {row["respelled"] for row in rows} == {"quokkalogy for quokalogy"}


async def test_two_words_no_paper_writes_apart_mean_the_one_word_papers_beyond_the_sample_write(two_papers_beyond_the_sample):
    """At a million papers `hyper networks` was searched as typed: `hypernetworks` is in no sampled
    paper, though papers write it and none writes the two words apart."""
    db = two_papers_beyond_the_sample
    conn = sqlite3.connect(db)
    assert not Speller(of_database(conn)).knows("quokkalogy"), "the sample holds the word: no test"
    assert conn.execute("""select count(*) from papers where abstract like '%quokka logy%'""").fetchone() == (0,)
    assert of_connection(conn).suggestion("quokka logy") == "quokkalogy"
    assert of_connection(conn).suggestion("network study") is None  # written apart: two words
    conn.close()
    rows = await search(datasette_instance(db), "quokka logy")
    assert {row["title"] for row in rows} == {"Island fauna after the fire", "Counting quokkas by night"}


@pytest.fixture(scope="module")
def words_one_edit_from_english(tmp_path_factory):
    """60 papers that write `cloudness`, `tamipered`, `lesions` and `tumor`, none `loudness`, `tampered`,
    `lessons` or `tumour`."""
    from tests.test_related import built_from

    papers = [(f"Sky study {i}", f"Cloudness over site {i}: tamipered lesions, a tumor of the forecast.") for i in range(60)]
    return built_from(tmp_path_factory.mktemp("english"), papers)


async def test_an_english_word_no_paper_writes_is_not_corrected_into_one_they_do(words_one_edit_from_english):
    """Beyond the lexicon's 12,700 common words: at a million papers `loudness` was offered as `cloudness`,
    `tampered` as `tamipered` and `lessons` as `lesions`. A British spelling is still offered as the
    American one the papers write."""
    db = words_one_edit_from_english
    corrections = of_connection(sqlite3.connect(db))
    for word, held in (("loudness", "cloudness"), ("tampered", "tamipered"), ("lessons", "lesions")):
        assert word not in english_words(), "in the lexicon: no test"
        assert held in [near for near, _ in corrections.neighbours(word)], "no word one edit away: no test"
        assert corrections.suggestion(word) is None, word
    assert corrections.suggestion("tumour") == "tumor"
    rows = await search(datasette_instance(db), "loudness of the sky")
    assert rows and {row["suggestion"] for row in rows} == {None}


@pytest.fixture(scope="module")
def both_spellings(tmp_path_factory):
    """6,000 papers about networks; 20 write `auto encoder` apart and 21 `autoencoder` (one of them the
    paper a visitor looks for); two write `networkstudy`, a slip of two words every paper writes apart."""
    from tests.test_related import built_from

    papers = [(f"Network study number {i}", f"A network for task {i} on benchmark {i % 97}.") for i in range(6000)]
    for i in range(10, 30):
        papers[i] = (f"An auto encoder for task {i}", f"We train an auto encoder on benchmark {i}.")
    for i in range(30, 50):
        papers[i] = (f"Autoencoder number {i}", f"An autoencoder for task {i}.")
    papers[50] = ("Deep clustering with a convolutional autoencoder", "Images are clustered by the relative entropy of their codes.")
    papers[51] = ("An auto tuned encoder", "Convolutional clustering of images, tuned by relative entropy.")
    papers[60] = ("Network study in one word", "A networkstudy of task 60.")
    papers[61] = ("Network study run together", "Another networkstudy.")
    return built_from(tmp_path_factory.mktemp("both"), papers)


async def test_two_words_papers_also_write_as_one_are_searched_both_ways_and_not_offered(both_spellings):
    """At a million papers `convolutional auto encoder clustering relative entropy` missed its paper,
    which writes `autoencoder`: 2,664 papers of the crowd write `auto encoder` apart, so the two words
    were not joined, and the paper lacked two of the words."""
    db = both_spellings
    conn = sqlite3.connect(db)  # a word people write: some of its papers are in the sample of words
    assert Speller(of_database(conn)).knows("autoencoder"), "the sample lacks the word: no test"
    conn.close()
    site = datasette_instance(db)
    joined = papers_holding(db, r"\bautoencoder\b")
    either = papers_holding(db, r"\bauto\b") & papers_holding(db, r"\bencoder\b") | joined
    assert len(either) == 42
    rows = await search(site, "auto encoder")
    assert {row["title"] for row in rows} == either
    assert {row["why"] for row in rows} == {"every word"}
    assert {row["suggestion"] for row in rows} == {None}  # both are spelt right: no "did you mean"
    for row in rows:  # the card says why a paper without the typed words was found
        assert row["respelled"] == ("autoencoder for auto encoder" if row["title"] in joined else None), row["title"]
    rows = await search(site, "convolutional auto encoder clustering relative entropy")
    by_title = {row["title"]: row for row in rows}
    assert by_title["Deep clustering with a convolutional autoencoder"]["why"] == "every word"
    response = await site.client.get("/papers/search", params={"q": "auto encoder", "mode": "words"})
    assert response.status_code == 200 and 'class="did-you-mean"' not in response.text


def test_a_joined_word_only_a_few_papers_write_is_no_second_spelling(both_spellings):
    conn = sqlite3.connect(both_spellings)
    assert conn.execute("select count(*) from papers where abstract like '%networkstudy%'").fetchone() == (2,)
    assert of_connection(conn).of("network study") == {}
    assert to_fts_query("network study", correct=of_connection(conn).alternatives) == to_fts_query("network study")
