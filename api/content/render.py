"""Markdown to sanitized HTML and to a JSON tree, both from one token stream.

Each document is tokenized once (the expensive part); core rules rewrite the tokens so that
unsafe links and images are gone before either output is produced, then the HTML is passed
through nh3 as a second, independent allowlist.
"""

from __future__ import annotations

import html
import re
from collections.abc import MutableMapping, Sequence
from functools import cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.container import container_plugin

from api.content.spec import CALLOUTS, suggest

LINK_SCHEMES = frozenset({"http", "https", "mailto", "heed"})
IMAGE_SCHEMES = frozenset({"http", "https"})

TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
    "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "img", "div",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "data-heed-item"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
    "div": {"class"},
    "p": {"class"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]+")
_ID_SUFFIX = re.compile(r"[ \t]*\{#([^\s{}]*)\}[ \t]*$")
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,40}$")

Tree = dict[str, Any]
Env = MutableMapping[str, Any]


def url_kind(url: str, schemes: frozenset[str] = LINK_SCHEMES) -> str | None:
    """`heed`, `web` or `relative` for a URL safe to follow; None for anything else.

    Entities and the control characters browsers skip are removed first, so `jav&#x61;script:`
    and `java\\tscript:` are seen for what they are.
    """
    cleaned = _IGNORED_IN_URL.sub("", html.unescape(url))
    match = _SCHEME.match(cleaned)
    if not match:
        return "relative"
    scheme = match.group(1).lower()
    if scheme not in schemes:
        return None
    return "heed" if scheme == "heed" else "web"


def heed_target(url: str) -> str:
    return url.split(":", 1)[1]


def slugify(title: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
    return re.sub(r"-{2,}", "-", slug) or "section"


def _heading_ids(state: StateCore) -> None:
    """Move a trailing `{#id}` from a heading's text to its `id` (and `meta['explicit_id']`)."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        children = inline.children or []
        if not children or children[-1].type != "text":
            continue
        match = _ID_SUFFIX.search(children[-1].content)
        if not match:
            continue
        children[-1].content = children[-1].content[: match.start()]
        if not children[-1].content:
            children.pop()
        inline.content = _ID_SUFFIX.sub("", inline.content)
        token.meta["explicit_id"] = match.group(1)
        if match.group(1):
            token.attrSet("id", match.group(1))


def _secure(state: StateCore) -> None:
    """Drop unsafe links and images, tag `heed:` links, turn styles and callouts into classes."""
    env = state.env
    for token in state.tokens:
        if token.type == "container_callout_open":
            _callout(token, env)
        elif token.type in ("th_open", "td_open"):
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrSet("align", style.removeprefix("text-align:"))
        elif token.type == "fence":
            language = token.info.strip().split(" ", 1)[0]
            token.info = language if _LANGUAGE.match(language) else ""
        elif token.type == "inline" and token.children:
            token.children = _secure_inline(token.children, token.map, state)


def _callout(token: Token, env: Env) -> None:
    variant, _, title = token.info.strip().partition(" ")
    if variant not in CALLOUTS:
        line = token.map[0] if token.map else 0
        if variant:
            msg = f"unknown callout `{variant}`{suggest(variant, CALLOUTS)}"
        else:
            msg = "a callout needs a kind"
        env.setdefault("problems", []).append(
            (line, 0, f"{msg}; use `::: tip`, `::: warning` or `::: note`")
        )
        variant = "note"
    token.meta["variant"] = variant
    token.meta["title"] = title.strip() or None


def _secure_inline(children: list[Token], where: list[int] | None, state: StateCore) -> list[Token]:
    out: list[Token] = []
    dropping = False
    cursor = [where[0] if where else 0, 0]
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            kind = url_kind(href)
            if kind is None:
                dropping = True
                continue
            if kind == "heed":
                target = heed_target(href)
                token.attrSet("data-heed-item", target)
                line, col = _locate(state, href, where, cursor)
                state.env.setdefault("links", []).append((target, line, col))
        elif token.type == "link_close" and dropping:
            dropping = False
            continue
        elif (
            token.type == "image"
            and url_kind(str(token.attrGet("src") or ""), IMAGE_SCHEMES) != "web"
        ):
            token = Token("text", "", 0, content=token.content)
        out.append(token)
    return out


def _locate(
    state: StateCore, needle: str, where: list[int] | None, cursor: list[int]
) -> tuple[int, int]:
    """0-based line and column of `needle` in the block's source lines, after `cursor`."""
    if "lines" not in state.env:
        state.env["lines"] = state.src.split("\n")
    lines: list[str] = state.env["lines"]
    end = where[1] if where else len(lines)
    line, col = cursor
    while line < end and line < len(lines):
        found = lines[line].find(needle, col)
        if found >= 0:
            cursor[0], cursor[1] = line, found + len(needle)
            return line, found
        line, col = line + 1, 0
    return (where[0] if where else 0), 0


def _render_callout(self: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any) -> str:
    token = tokens[idx]
    if token.nesting != 1:
        return "</div>\n"
    opening = f'<div class="callout callout-{token.meta["variant"]}">\n'
    title = token.meta.get("title")
    return opening + (f'<p class="callout-title">{escapeHtml(title)}</p>\n' if title else "")


@cache
def markdown() -> MarkdownIt:
    """The one parser (built once per process): CommonMark, tables, strikethrough, callouts."""
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    container_plugin(md, "callout", validate=lambda *_: True, render=_render_callout)
    md.core.ruler.push("heed_heading_ids", _heading_ids)
    anchors_plugin(md, min_level=1, max_level=6, slug_func=slugify)
    md.core.ruler.push("heed_secure", _secure)
    return md


def parse(text: str, env: Env) -> list[Token]:
    return markdown().parse(text, env)


@cache
def _cleaner() -> nh3.Cleaner:
    """The allowlist, built once per process (`nh3.clean` builds it again on every call)."""
    return nh3.Cleaner(
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=set(LINK_SCHEMES),
        strip_comments=True,
        link_rel="noopener noreferrer",
    )


def sanitize(fragment: str) -> str:
    return _cleaner().clean(fragment)


def to_html(tokens: Sequence[Token], env: Env) -> str:
    md = markdown()
    return sanitize(md.renderer.render(tokens, md.options, env))


def inline_text(token: Token) -> str:
    """Plain text of an inline token (a heading's title)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def empty_tree() -> Tree:
    return {"type": "doc", "children": []}


def to_tree(tokens: Sequence[Token]) -> Tree:
    """The JSON tree for clients without an HTML renderer (node types: content/README.md)."""
    root = empty_tree()
    stack: list[Tree] = [root]
    in_head = False
    for token in tokens:
        kind = token.type
        if token.nesting == -1:
            in_head = in_head and kind != "thead_close"
            stack.pop()
        elif kind == "inline":
            _inline_tree(token.children or [], stack[-1])
        elif token.nesting == 1:
            if kind in ("thead_open", "tbody_open"):
                in_head = kind == "thead_open"
                stack.append(stack[-1])
                continue
            node = _block_node(token, in_head)
            if kind == "paragraph_open" and token.hidden and len(stack) > 1:
                stack[-2]["tight"] = True
            stack[-1]["children"].append(node)
            stack.append(node)
        elif kind in ("fence", "code_block"):
            stack[-1]["children"].append(
                {"type": "codeBlock", "language": token.info or None, "text": token.content}
            )
        elif kind == "hr":
            stack[-1]["children"].append({"type": "thematicBreak"})
    return root


def _block_node(token: Token, in_head: bool) -> Tree:
    kind = token.type
    node: Tree
    if kind == "heading_open":
        node = {"type": "heading", "level": int(token.tag[1:]), "id": token.attrGet("id")}
    elif kind == "bullet_list_open":
        node = {"type": "list", "ordered": False, "start": None, "tight": False}
    elif kind == "ordered_list_open":
        node = {"type": "list", "ordered": True, "start": int(token.attrGet("start") or 1)}
        node["tight"] = False
    elif kind == "list_item_open":
        node = {"type": "listItem"}
    elif kind == "tr_open":
        node = {"type": "tableRow", "header": in_head}
    elif kind in ("th_open", "td_open"):
        node = {"type": "tableCell", "align": token.attrGet("align")}
    elif kind == "container_callout_open":
        node = {"type": "callout", "variant": token.meta["variant"], "title": token.meta["title"]}
    else:
        node = {
            "type": {"blockquote_open": "blockquote", "table_open": "table"}.get(kind, "paragraph")
        }
    node["children"] = []
    return node


_INLINE_OPEN = {"strong_open": "strong", "em_open": "emphasis", "s_open": "strikethrough"}


def _inline_tree(children: Sequence[Token], parent: Tree) -> None:
    stack = [parent]
    for token in children:
        kind = token.type
        if token.nesting == -1:
            stack.pop()
        elif kind == "link_open":
            href = str(token.attrGet("href"))
            item = token.attrGet("data-heed-item")
            node: Tree = {
                "type": "link",
                "href": href,
                "title": token.attrGet("title"),
                "itemId": item,
                "children": [],
            }
            stack[-1]["children"].append(node)
            stack.append(node)
        elif token.nesting == 1:
            node = {"type": _INLINE_OPEN.get(kind, "emphasis"), "children": []}
            stack[-1]["children"].append(node)
            stack.append(node)
        elif kind == "text":
            _add_text(stack[-1], token.content)
        elif kind == "softbreak":
            _add_text(stack[-1], " ")
        elif kind == "hardbreak":
            stack[-1]["children"].append({"type": "break"})
        elif kind == "code_inline":
            stack[-1]["children"].append({"type": "code", "text": token.content})
        elif kind == "image":
            stack[-1]["children"].append(
                {
                    "type": "image",
                    "src": str(token.attrGet("src")),
                    "alt": token.content,
                    "title": token.attrGet("title"),
                }
            )


def _add_text(parent: Tree, text: str) -> None:
    children = parent["children"]
    if children and children[-1]["type"] == "text":
        children[-1]["text"] += text
    elif text:
        children.append({"type": "text", "text": text})


def tree_text(tree: Tree) -> str:
    """Plain text of a tree, one line per block, for search."""
    out: list[str] = []
    _collect(tree, out)
    return "".join(out).strip()


_BLOCKS = {"paragraph", "heading", "listItem", "tableCell", "codeBlock", "callout", "blockquote"}


def _collect(node: Tree, out: list[str]) -> None:
    kind = node["type"]
    if kind in ("text", "code", "codeBlock"):
        out.append(node["text"])
    elif kind == "image":
        out.append(node["alt"])
    elif kind == "break":
        out.append("\n")
    if kind == "callout" and node.get("title"):
        out.append(node["title"] + "\n")
    for child in node.get("children", ()):
        _collect(child, out)
    if kind in _BLOCKS:
        out.append("\n")
