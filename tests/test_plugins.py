"""The plugins' pure functions, imported directly."""

from __future__ import annotations

import pytest

from plugins.about import readme_html
from plugins.code_links import code_links, is_web_url, link
from plugins.highlight import highlight


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
