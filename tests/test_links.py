"""URL extraction from abstracts: every shape the dumps use."""

from __future__ import annotations

import pytest

from loader.links import find_links


def only(text: str):
    [link] = find_links(text)
    return link


@pytest.mark.parametrize(
    "text, url",
    [
        ("Code: https://github.com/junia3/LPLD.", "https://github.com/junia3/LPLD"),
        ("(see https://github.com/chakkritte/EEEA-Net).", "https://github.com/chakkritte/EEEA-Net"),
        ("at https://github.com/wgcban/mix-bt.git", "https://github.com/wgcban/mix-bt"),
        ("at https://github.com/WangFei-2019/SNARE/.", "https://github.com/WangFei-2019/SNARE"),
        ("typo https;//github.com/ZhiyinShao-H/UniPT.", "https://github.com/ZhiyinShao-H/UniPT"),
        ("bare github.com/edwardjhu/TP4.", "https://github.com/edwardjhu/TP4"),
        ("released at~https://github.com/Zplusdragon/PLIP", "https://github.com/Zplusdragon/PLIP"),
        ("HTTP://WWW.GitHub.com/a/b", "https://github.com/a/b"),
    ],
)
def test_github_repository_shapes_meet_in_one_canonical_url(text, url):
    link = only(text)
    assert (link.kind, link.url, link.repo.url, link.path) == ("code", url, url, None)


def test_repository_ids_ignore_case_and_git_suffix():
    first, second = only("https://github.com/OpenAI/CLIP."), only("github.com/openai/clip.git")
    assert first.repo.id == second.repo.id == "github.com/openai/clip"
    assert (first.repo.owner, first.repo.name) == ("OpenAI", "CLIP")


def test_deep_links_keep_their_path_and_point_at_the_repository():
    link = only("https://github.com/tensorflow/tpu/tree/master/models/official/detection/projects/vild.")
    assert link.repo.url == "https://github.com/tensorflow/tpu"
    assert link.path == "tree/master/models/official/detection/projects/vild"
    assert link.url == "https://github.com/tensorflow/tpu/tree/master/models/official/detection/projects/vild"


def test_project_pages_and_hugging_face_are_kept_but_are_not_repositories():
    links = find_links(
        "Project page https://rayjryang.github.io/LayerDecomp. Data: "
        "https://huggingface.co/datasets/davidbrandfonbrener/color-filtered-c4 and robofume.github.io."
    )
    assert [(l.kind, l.url, l.repo) for l in links] == [
        ("project", "https://rayjryang.github.io/LayerDecomp", None),
        ("huggingface", "https://huggingface.co/datasets/davidbrandfonbrener/color-filtered-c4", None),
        ("project", "https://robofume.github.io", None),
    ]


def test_a_project_page_is_found_in_a_text_without_a_slash_and_text_without_links_has_none():
    """Most abstracts hold no slash and are not searched further; a `.github.io` name needs none."""
    links = find_links("Demos and code at VIDEO-GEN.GitHub.IO, soon.")
    assert [(l.kind, l.url, l.raw) for l in links] == [("project", "https://video-gen.github.io", "VIDEO-GEN.GitHub.IO")]
    assert find_links("We train on GitHub code (see our http page, and gitlab.com) without links.") == []


def test_other_hosts_and_user_pages():
    links = find_links("See http://example.org/x?y=1, https://gitlab.com/grp/proj and https://github.com/someone")
    assert [(l.kind, l.url) for l in links] == [
        ("other", "http://example.org/x?y=1"),
        ("code", "https://gitlab.com/grp/proj"),
        ("other", "https://github.com/someone"),
    ]


def test_each_url_once_in_order():
    text = "https://github.com/a/b then https://github.com/a/b. and https://github.com/c/d"
    assert [l.url for l in find_links(text)] == ["https://github.com/a/b", "https://github.com/c/d"]


def test_no_urls_in_plain_prose():
    assert find_links("We use github-style reviews and a .io domain name, e.g. i.e. 3.5x.") == []


def test_raw_keeps_what_was_written():
    assert only("typo https;//github.com/ZhiyinShao-H/UniPT.").raw == "https;//github.com/ZhiyinShao-H/UniPT"


def test_a_closing_bracket_stays_when_the_url_opened_it():
    # Balanced brackets belong to the URL (Wikipedia's titles); an unbalanced one closes the sentence.
    assert only("see https://en.wikipedia.org/wiki/Transformer_(model).").url == "https://en.wikipedia.org/wiki/Transformer_(model)"
    assert only("(code: https://github.com/a/b)").url == "https://github.com/a/b"
    assert only("(https://en.wikipedia.org/wiki/Transformer_(model))").url == "https://en.wikipedia.org/wiki/Transformer_(model)"


def test_github_site_pages_are_not_repositories():
    for text in ("https://github.com/orgs/OpenGVLab/repositories", "https://github.com/features/copilot", "https://github.com/Topics/llm"):
        link = only(text)
        assert (link.kind, link.repo, link.host, link.raw) == ("other", None, "github.com", text), text
    # an owner whose name is such a word on another host is an owner
    assert only("https://gitlab.com/topics/x").repo.owner == "topics"


def test_a_code_host_page_that_is_no_repository_keeps_what_was_written_and_its_host():
    link = only("by https://github.com/OpenGVLab.")
    assert (link.raw, link.url, link.host, link.kind, link.repo) == (
        "https://github.com/OpenGVLab", "https://github.com/OpenGVLab", "github.com", "other", None
    )


def test_arxiv_links_are_told_apart():
    link = only("(https://arxiv.org/abs/2401.00001).")
    assert (link.raw, link.url, link.host, link.kind) == ("https://arxiv.org/abs/2401.00001", "https://arxiv.org/abs/2401.00001", "arxiv.org", "arxiv")
    assert only("https://www.arxiv.org/pdf/2401.00001").kind == "arxiv"


def test_the_host_is_the_first_one_named():
    link = only("archived at https://web.archive.org/web/2020/https://example.com/x")
    assert (link.host, link.kind) == ("web.archive.org", "other")


def test_a_url_inside_the_path_keeps_its_two_slashes():
    link = only("archived at https://web.archive.org/web/2020/https://example.com/x/.")
    assert link.url == "https://web.archive.org/web/2020/https://example.com/x"


def test_a_host_without_a_dot_is_no_link():
    assert find_links("served at https://localhost:8000/demo and http://intranet/page") == []
