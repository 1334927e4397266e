"""Rendering: HTML and tree shape, and that no input yields executable HTML or unsafe URLs."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.content import build
from api.content.parse import Job, parse_file
from api.content.render import tree_text, url_kind

SAFE_SCHEMES = ("http:", "https:", "mailto:", "heed:")


def render(body: str, kind: str = "article") -> tuple[str, dict[str, Any]]:
    text = f"---\nid: x\nkind: {kind}\ntitle: X\nsummary: X.\nphase: enable\n---\n{body}"
    parsed = parse_file(Job("content/x.md", text.encode(), "en"))
    return parsed.body.html, json.loads(parsed.body.tree_json)


class Audit(HTMLParser):
    """Collects everything in an HTML fragment that could run code."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "svg", "math", "object", "embed", "style", "form", "base"):
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.bad.append(f"{tag}[{name}]")
            urls = ("href", "src", "action", "formaction", "xlink:href")
            if name in urls and value and not _safe_url(value, images=(name == "src")):
                self.bad.append(f"{tag}[{name}={value}]")


def _safe_url(value: str, images: bool = False) -> bool:
    cleaned = "".join(ch for ch in html.unescape(value) if ch > " ").lower()
    if not re.match(r"[a-z][a-z0-9+.-]*:", cleaned) and not images:
        return True  # relative: browsers only see a scheme in this shape
    allowed = ("http:", "https:") if images else SAFE_SCHEMES
    return cleaned.startswith(allowed)


def audit_html(fragment: str) -> list[str]:
    parser = Audit()
    parser.feed(fragment)
    parser.close()
    return parser.bad


def audit_tree(node: dict[str, Any]) -> list[str]:
    allowed = {
        "doc", "heading", "paragraph", "text", "strong", "emphasis", "strikethrough", "code",
        "link", "image", "break", "blockquote", "list", "listItem", "codeBlock", "thematicBreak",
        "table", "tableRow", "tableCell", "callout",
    }  # fmt: skip
    bad = [] if node["type"] in allowed else [node["type"]]
    if node["type"] == "link" and not _safe_url(node["href"]):
        bad.append(node["href"])
    if node["type"] == "image" and not _safe_url(node["src"], images=True):
        bad.append(node["src"])
    for child in node.get("children", ()):
        bad += audit_tree(child)
    return bad


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src='https://evil.example'></iframe>",
    '<a href="heed:x" onclick="alert(1)">x</a>',
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<!-- <script>alert(1)</script> -->",
    "[a](javascript:alert(1))",
    "[a](JAVASCRIPT:alert(1))",
    "[a](jav&#x61;script:alert(1))",
    "[a](java\tscript:alert(1))",
    "[a](&#106;avascript:alert(1))",
    "[a](vbscript:msgbox(1))",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](javascript:alert(1))",
    "![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![i](data:text/html,<script>alert(1)</script>)",
    "![i](/relative.png)",
    '[a](https://ok.example "title\\" onmouseover=\\"alert(1)")',
    "[a](https://ok.example 'it''s \" quoted')",
    "<javascript:alert(1)>",
    "<https://ok.example/?q=<script>>",
    "<mailto:a@b.example>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<details open ontoggle=alert(1)>",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '[a](heed:ok "x")<b onmouseover=alert(1)>b</b>',
    '## Title {#x" onclick="alert(1)}',
    "::: tip <img src=x onerror=alert(1)>\nx\n:::",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    '```js" onload="alert(1)\nx\n```',
]


@pytest.mark.parametrize("source", XSS)
def test_no_executable_html_or_unsafe_urls(source: str) -> None:
    body_html, tree = render(source)
    assert audit_html(body_html) == []
    assert audit_tree(tree) == []
    assert "<script" not in body_html.lower()


def test_raw_html_is_shown_as_text() -> None:
    body_html, tree = render("Hi <b>there</b>\n\n<div>block</div>")
    assert "&lt;b&gt;there&lt;/b&gt;" in body_html
    assert "&lt;div&gt;block&lt;/div&gt;" in body_html
    assert tree_text(tree) == "Hi <b>there</b>\n<div>block</div>"


def test_unsafe_link_keeps_its_text() -> None:
    body_html, tree = render("[click me](vbscript:x) and ![alt text](data:image/png;base64,AA)")
    assert "<a" not in body_html
    assert "<img" not in body_html
    assert "click me" in tree_text(tree)
    assert "alt text" in tree_text(tree)


def test_heed_links_are_tagged() -> None:
    body_html, tree = render("See [guide](heed:add-card).")
    assert '<a href="heed:add-card" data-heed-item="add-card"' in body_html
    link = tree["children"][0]["children"][1]
    assert link == {
        "type": "link",
        "href": "heed:add-card",
        "title": None,
        "itemId": "add-card",
        "children": [{"type": "text", "text": "guide"}],
    }


def test_tree_shape() -> None:
    source = (
        "## Setup {#setup}\n\nText *em* **strong** ~~old~~ `code`  \nnext\n\n"
        "1. one\n2. two\n\n- a\n\n- b\n\n"
        "> quote\n\n---\n\n```py\nprint(1)\n```\n\n"
        "::: warning Careful\nBody\n:::\n\n"
        "| h1 | h2 |\n|:---|---:|\n| c1 | c2 |\n\n"
        '![a cat](https://img.example/cat.png "Cat")\n'
    )
    body_html, tree = render(source)
    kids = tree["children"]
    assert kids[0] == {
        "type": "heading",
        "level": 2,
        "id": "setup",
        "children": [{"type": "text", "text": "Setup"}],
    }
    inline = ["text", "emphasis", "text", "strong", "text", "strikethrough", "text", "code"]
    assert [c["type"] for c in kids[1]["children"]] == [*inline, "break", "text"]
    assert kids[2]["ordered"]
    assert kids[2]["start"] == 1
    assert kids[2]["tight"]
    assert not kids[3]["ordered"]
    assert not kids[3]["tight"]
    assert kids[3]["children"][0] == {
        "type": "listItem",
        "children": [{"type": "paragraph", "children": [{"type": "text", "text": "a"}]}],
    }
    assert kids[4]["type"] == "blockquote"
    assert kids[5] == {"type": "thematicBreak"}
    assert kids[6] == {"type": "codeBlock", "language": "py", "text": "print(1)\n"}
    assert kids[7]["type"] == "callout"
    assert kids[7]["variant"] == "warning"
    assert kids[7]["title"] == "Careful"
    table = kids[8]
    assert table["children"][0]["header"]
    assert not table["children"][1]["header"]
    assert [c["align"] for c in table["children"][1]["children"]] == ["left", "right"]
    image = kids[9]["children"][0]
    assert image == {
        "type": "image",
        "src": "https://img.example/cat.png",
        "alt": "a cat",
        "title": "Cat",
    }
    assert '<div class="callout callout-warning">' in body_html
    assert '<th align="left">' in body_html
    assert "style" not in body_html
    assert '<h2 id="setup">Setup</h2>' in body_html


def test_headings_get_unique_slugs() -> None:
    body_html, _ = render("## Add a card\n\n## Add a card\n\n### Кириллица тоже")
    assert '<h2 id="add-a-card">' in body_html
    assert '<h2 id="add-a-card-1">' in body_html
    assert '<h3 id="кириллица-тоже">' in body_html


def test_flow_steps_render_separately(tmp_path: Path) -> None:
    root = tmp_path / "content"
    root.mkdir()
    (root / "f.md").write_text(
        "---\nid: f\nkind: flow\ntitle: F\nsummary: S.\nphase: enable\nscope: organization\n---\n"
        "Intro **text**.\n\n## One {#one}\n\n```step\nroles: [admin]\ncta: {label: Go, url: /go}\n"
        "```\n\nFirst body.\n\n### Detail\n\nMore.\n\n## Two {#two}\n\nSecond body.\n",
        encoding="utf-8",
    )
    item = build(root).items[("f", "en")]
    assert item.body_markdown == "Intro **text**."
    assert item.body_html == "<p>Intro <strong>text</strong>.</p>\n"
    one, two = item.steps
    assert one.title == "One"
    assert one.roles == ("admin",)
    assert one.scope == "organization"
    assert one.cta == {"label": "Go", "url": "/go"}
    assert one.body_markdown == "First body.\n\n### Detail\n\nMore."
    assert "<h3" in one.body_html
    assert "```step" not in one.body_markdown
    assert two.body_html == "<p>Second body.</p>\n"
    assert two.skippable
    assert not two.optional


def test_url_kind() -> None:
    assert url_kind("heed:abc") == "heed"
    assert url_kind("HTTPS://x") == "web"
    assert url_kind("/settings") == "relative"
    assert url_kind(" java\nscript:alert(1)") is None
    assert url_kind("jav&#x61;script:x") is None


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>\"'`=:/ ()[]!#*_~-|\n\t&;{}@.ajvscriptJSdonlehfmgx0123")),
        max_size=200,
    )
)
def test_random_text_never_yields_unsafe_html(source: str) -> None:
    body_html, tree = render(source)
    assert audit_html(body_html) == []
    assert audit_tree(tree) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "<img src=x onerror=alert(1)>",
                "[a](",
                ")",
                "![b](",
                "javascript:",
                "JaVaScRiPt:",
                "jav&#x61;script:",
                "data:text/html,",
                "heed:x",
                " onclick=alert(1) ",
                '"',
                "'",
                "<svg onload=alert(1)>",
                "::: tip",
                ":::",
                "\n",
                "## ",
                "{#",
                "}",
                "<",
                ">",
                "&#",
                "`",
                "```",
                "| a |",
                "|---|",
                "http://x",
                " ",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_random_attack_fragments_never_yield_unsafe_html(source: str) -> None:
    body_html, tree = render(source)
    assert audit_html(body_html) == []
    assert audit_tree(tree) == []
