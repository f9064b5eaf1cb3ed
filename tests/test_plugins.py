"""The plugins' pure functions, imported directly."""

from __future__ import annotations

import sqlite3

import pytest

from plugins.about import readme_html
from plugins.code_links import code_links, is_web_url, link
from plugins.highlight import highlight
from plugins.search_query import MATCH_NOTHING, to_fts_query


@pytest.mark.parametrize(
    "typed, query",
    [
        ("contrastive learning", '"contrastive" "learning"'),
        ("contrast*", '"contrast"*'),
        ('"masked image modeling"', '"masked image modeling"'),
        ("pre-training", '"pre training"'),
        ("Swin-UMamba", '"Swin UMamba"'),
        ("title:probing", 'title : "probing"'),
        ('abstract:"linear probing"', 'abstract : "linear probing"'),
        ("nosuch:word", '"nosuch word"'),
        ("a AND (b OR", '"a" "AND" "b" "OR"'),
        ("NEAR(x y", '"NEAR x" "y"'),  # punctuation joins words into a phrase, as in pre-training
        ("^x", '"x"'),
        ('"unclosed phrase', '"unclosed phrase"'),
        ("nul\x00byte\nline", '"nul byte" "line"'),
        ("", MATCH_NOTHING),
        ("  * ^ ( ) :", MATCH_NOTHING),
    ],
)
def test_fts_query(typed, query):
    assert to_fts_query(typed) == query


def test_fts_query_is_always_valid_fts5():
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(title, abstract)")
    conn.execute("insert into t values ('Attentive probing', 'linear probing of masked image models')")
    for typed in ['"', "'", "a OR", "x" * 5000, "title:", "(((", "*a*", "-x", "\u202e", "NOT"]:
        conn.execute("select * from t where t match ?", [to_fts_query(typed)]).fetchall()
    assert conn.execute("select count(*) from t where t match ?", [to_fts_query("prob*")]).fetchone() == (1,)
    assert conn.execute("select count(*) from t where t match ?", [to_fts_query("title:linear")]).fetchone() == (0,)


def test_fts_query_keeps_at_most_32_terms():
    assert to_fts_query(" ".join(f"w{i}" for i in range(100))).count('"') == 64


def test_highlight_escapes_then_marks():
    assert highlight("a \x02<b>\x03 & c") == "a <mark>&lt;b&gt;</mark> &amp; c"
    assert highlight(None) == ""
    assert highlight("<script>") == "&lt;script&gt;"


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://github.com/a/b", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,x", False),
        ("//evil.example", False),
        ("https://", False),
        (None, False),
        (42, False),
    ],
)
def test_only_web_urls_become_links(url, ok):
    assert is_web_url(url) is ok


def test_link_markup():
    assert link("https://github.com/a/b") == '<a href="https://github.com/a/b" rel="noopener nofollow">github.com/a/b</a>'
    assert link('https://x.org/"onmouseover=1') == (
        '<a href="https://x.org/&#34;onmouseover=1" rel="noopener nofollow">x.org/&#34;onmouseover=1</a>'
    )
    assert link("javascript:alert(1)") == "javascript:alert(1)"


def test_code_links_from_json():
    assert code_links('["https://github.com/a/b", "javascript:x"]') == (
        '<a href="https://github.com/a/b" rel="noopener nofollow">github.com/a/b</a> javascript:x'
    )
    assert code_links("not json <b>") == "not json &lt;b&gt;"
    assert code_links('{"a": 1}') == "{&#34;a&#34;: 1}"
    assert code_links(None) == ""


def test_readme_renders_without_raw_html(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<script>alert(1)</script>\n\n`make serve`\n")
    html = readme_html(readme)
    assert "<h1>Title</h1>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<code>make serve</code>" in html
