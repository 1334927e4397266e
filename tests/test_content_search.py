"""Search: the precomputed index ranks and highlights exactly like scoring every item in full.

`Reference` is the search as first written (every matching item scored, fully sorted, every
word of a text checked for highlights); the catalog's index must give the same hits, scores
and highlights whichever way it ranks (all matches, threshold algorithm, dense sums).
"""

from __future__ import annotations

import html
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.content import Catalog, Item, search
from api.content.render import parse as parse_markdown
from api.content.render import to_tree
from api.content.search import (
    K1,
    MAX_TOKENS,
    MAX_WORD,
    PREFIX_WEIGHT,
    SNIPPET,
    WEIGHTS,
    Analysis,
    B,
    Hit,
    item_fields,
    language,
    stem,
)

WORD = re.compile(r"\w+")
YO, YE = "\u0451", "\u0435"


def item(item_id: str, locale: str = "en", body: str = "", **fields: Any) -> Item:
    defaults: dict[str, Any] = {
        "kind": "article",
        "title": item_id.replace("-", " ").title(),
        "summary": "Summary.",
        "phase": "enable",
    }
    tree = to_tree(parse_markdown(body, {}))
    return Item(
        id=item_id, locale=locale, body_markdown=body, body_tree=tree, **(defaults | fields)
    )


class Reference:
    """The search over one locale's served items, scoring every match and sorting them all."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.analyses: list[tuple[Counter[str], float, str]] = []
        for it in items:
            lang, fields = language(it.locale), item_fields(it)
            text = fields[2]
            terms: Counter[str] = Counter()
            length = 0.0
            for weight, field in zip(WEIGHTS, fields, strict=True):
                tokens = [w[:MAX_WORD].replace(YO, YE) for w in WORD.findall(field.lower())]
                length += weight * len(tokens)
                for token in tokens:
                    terms[stem(token, lang)] += weight
            self.analyses.append((terms, length, f"{it.summary}\n{text}"))
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for n, (terms, _, _) in enumerate(self.analyses):
            for term, tf in terms.items():
                self.postings.setdefault(term, []).append((n, tf))
        self.vocabulary = sorted(self.postings)
        total = sum(length for _, length, _ in self.analyses)
        self.average = total / len(items) if items else 1.0
        self.memo: dict[tuple[str, str], Any] = {}

    def ranking(
        self, query: str, locale: str
    ) -> tuple[list[tuple[int, float]], list[dict[str, float]]]:
        tokens = list(
            dict.fromkeys(w[:MAX_WORD].replace(YO, YE) for w in WORD.findall(query.lower()))
        )[:16]
        # (words matched, of them by a whole stem, BM25) as one number, then a score in (0, 1)
        top = max((score for term in self.postings for _, score in self.bm25(term)), default=0)
        whole = MAX_TOKENS * top + 1.0
        match = MAX_TOKENS * (whole + top) + 1.0
        scores: dict[int, float] = {}
        found: list[dict[str, float]] = []
        for token in tokens:
            expansions = self.expand(token, locale)
            found.append(expansions)
            best: dict[int, float] = {}
            for term, weight in expansions.items():
                offset = match + whole if weight == 1.0 else match
                for doc, score in self.bm25(term):
                    best[doc] = max(best.get(doc, 0.0), weight * score + offset)
            for doc, score in best.items():
                scores[doc] = scores.get(doc, 0.0) + score
        ranked = sorted(scores.items(), key=lambda pair: (-pair[1], self.items[pair[0]].id))

        def score(total: float) -> float:
            matched, rest = divmod(total, match)
            whole_words, bm25 = divmod(rest, whole)
            tail = (whole_words + bm25 / (len(tokens) * top + 1.0)) / (len(tokens) + 1)
            return (matched - 1 + tail) / len(tokens)

        return [(doc, score(total)) for doc, total in ranked], found

    def search(
        self, query: str, locale: str, first: int, where: Callable[[Item], bool] | None
    ) -> list[tuple[str, float, str]]:
        if (query, locale) not in self.memo:
            self.memo[query, locale] = (*self.ranking(query, locale), {})
        ranked, found, highlights = self.memo[query, locale]
        hits = []
        for doc, score in ranked:
            it = self.items[doc]
            if where is not None and not where(it):
                continue
            if doc not in highlights:
                text, has = self.analyses[doc][2], self.analyses[doc][0]
                counted: set[str] = set()  # per word: its whole stems here, else its prefixes
                for word in found:
                    whole = {t for t, weight in word.items() if weight == 1.0 and t in has}
                    counted |= whole or {t for t in word if t in has}
                marked = reference_highlight(text, counted, language(it.locale))
                if "<mark>" not in marked:  # only the title matched
                    titled = f"{it.title} — {' '.join(text.split())}"
                    marked = reference_highlight(titled, counted, language(it.locale))
                highlights[doc] = marked
            hits.append((it.id, round(score, 4), highlights[doc]))
            if len(hits) == first:
                break
        return hits

    def expand(self, token: str, locale: str) -> dict[str, float]:
        script = "russian" if re.search("[\u0400-\u04ff]", token) else None
        script = script or ("english" if re.search("[a-z]", token) else None)
        stems = {token} | {stem(token, lang) for lang in {language(locale), script} if lang}
        out: dict[str, float] = {}
        for s in stems:
            if s in self.postings:
                out[s] = 1.0
            if len(s) >= 3:
                start = next((n for n, t in enumerate(self.vocabulary) if t >= s), None)
                for term in self.vocabulary[start : start + 50] if start is not None else []:
                    if not term.startswith(s):
                        break
                    out.setdefault(term, PREFIX_WEIGHT)
            for cut in range(max(4, len(s) - 3), len(s)):
                if s[:cut] in self.postings:
                    out.setdefault(s[:cut], PREFIX_WEIGHT)
        return out

    def bm25(self, term: str) -> Iterator[tuple[int, float]]:
        postings = self.postings.get(term, [])
        n = len(self.items)
        idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
        for doc, tf in postings:
            norm = K1 * (1 - B + B * self.analyses[doc][1] / self.average)
            yield doc, idf * tf * (K1 + 1) / (tf + norm)


def reference_highlight(text: str, terms: set[str], lang: str | None) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    spans = []
    for m in WORD.finditer(flat):
        lowered = m.group().lower().replace(YO, YE)
        stemmed = stem(lowered, lang)
        key = stemmed if stemmed in terms else lowered if lowered in terms else None
        if key is not None:
            spans.append((m.start(), m.end(), key))
    if not spans:
        if len(flat) <= SNIPPET:
            return html.escape(flat)
        cut = flat.rfind(" ", 0, SNIPPET)
        return html.escape(flat[: cut if cut > 0 else SNIPPET] + "…")
    start = reference_window([s for s, _, _ in spans], spans)
    start = start if start == 0 else flat.find(" ", start) + 1 or start
    end = min(len(flat), start + SNIPPET)
    if end < len(flat):
        end = flat.rfind(" ", start, end) if " " in flat[start:end] else end
    out = ["…" if start > 0 else ""]
    cursor = start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        out += [html.escape(flat[cursor:s]), "<mark>", html.escape(flat[s:e]), "</mark>"]
        cursor = e
    out += [html.escape(flat[cursor:end]), "…" if end < len(flat) else ""]
    return "".join(out)


def reference_window(anchors: list[int], spans: list[tuple[int, int, Any]]) -> int:
    best_start, best_rank = 0, (-1, -1)
    for anchor in anchors:
        start = max(0, anchor - 30)
        inside = [s for s in spans if s[0] >= start and s[1] <= start + SNIPPET]
        rank = (len({key for _, _, key in inside}), len(inside))
        if rank > best_rank:
            best_start, best_rank = start, rank
    return best_start


EN = (  # noqa: SIM905 - a list of words reads best as words
    "visitor visitors visiting visit visited badge badges printer printers print printing "
    "host hosts reception desk guest guests office wifi lobby arrival arrivals report "
    "setup setting settings check in out card billing company kiosk policy photo label"
).split(" ")
RU = "посетитель посетителей посетители гость гостей пропуск принтер ёлка елка".split(" ")  # noqa: SIM905
ODD = ["Σίσυφος", "ΟΔΟΣ", "İstanbul", "x" * 45, "a_b_c", "&amp;", "<b>", "l'été", "x\x00y"]


def corpus(seed: int, count: int = 150) -> list[Item]:
    """English articles with a Russian translation for every fourth; word counts vary a lot,
    so some words are in most items and others in few."""
    rng = random.Random(seed)

    def text(words: list[str], size: int, skew: float) -> str:
        picked = [rng.choice(words[: max(2, int(len(words) * skew))]) for _ in range(size)]
        if rng.random() < 0.1:
            picked.insert(rng.randrange(len(picked) + 1), rng.choice(ODD))
        return " ".join(picked).capitalize() + "."

    out = []
    for n in range(count):
        skew = rng.choice([0.2, 0.5, 1.0])
        item_id = f"item-{n:03d}"
        body = "\n\n".join(text(EN, rng.randint(5, 80), skew) for _ in range(rng.randint(1, 4)))
        out.append(
            item(
                item_id,
                title=text(EN, rng.randint(1, 5), skew),
                summary=text(EN, rng.randint(0, 12), skew),
                body=body,
                kind=rng.choice(["article", "article", "tip", "flow"]),
            )
        )
        if n % 4 == 0:
            out.append(
                item(
                    item_id,
                    "ru",
                    title=text(RU, rng.randint(1, 4), 1.0),
                    summary=text(RU + EN[:6], rng.randint(0, 8), 1.0),
                    body=text(RU + EN[:6], rng.randint(5, 60), 1.0),
                )
            )
    return out


def queries(seed: int) -> list[str]:
    rng = random.Random(seed)
    fixed = ["visitor badge printer", "visi", "printer setup", "посетитель", "badges guest"]
    fixed += ["vis", "print", "ёлка", "istanbul", "σίσυφος", "xxxx", "a_b_c", "nothing", "b"]
    fixed += [" ".join(EN[:18])]  # more words than a query keeps
    words = EN + RU
    made = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(25)]
    made += [w[: rng.randint(2, len(w))] for w in rng.sample(words, 10)]
    return fixed + made


@cache
def reference(seed: int, count: int, locale: str) -> Reference:
    """Shared by the tests of one corpus, with the hits it has worked out."""
    return Reference([r.item for r in Catalog(corpus(seed, count)).items(locale=locale)])


def check_against_reference(catalog: Catalog, seed: int, count: int = 150) -> None:
    wheres: list[Callable[[Item], bool] | None] = [
        None,
        lambda it: hash(it.id) % 3 != 0,
        lambda it: it.kind == "flow",
    ]
    for locale in ("en", "ru"):
        expected_for = reference(seed, count, locale)
        assert expected_for.items == [r.item for r in catalog.items(locale=locale)]
        for query in queries(seed):
            for where in wheres:
                for first in (1, 10, 60):
                    got = catalog.search(query, locale=locale, first=first, where=where)
                    expected = expected_for.search(query, locale, first, where)
                    assert [(h.item.id, h.score, h.highlight) for h in got] == expected, (
                        query,
                        locale,
                        first,
                    )


@pytest.mark.parametrize(
    "paths",
    [
        {},  # as configured
        {"SPARSE_WORK": 10**9},  # every match scored
        {"SPARSE_WORK": 0},  # threshold algorithm, its budget as configured
        {"SPARSE_WORK": 0, "THRESHOLD_READS": 0, "READ_SHARE": 10**9},  # dense sums at once
        {"SPARSE_WORK": 0, "THRESHOLD_READS": 3, "READ_SHARE": 10**9},  # dense sums midway
        {"DENSE_SHARE": 1, "SPARSE_WORK": 0},  # no per-document lists: sums from postings
        {"DENSE_SHARE": 10**9, "SPARSE_WORK": 0},  # every term as a per-document list
    ],
)
def test_every_ranking_path_equals_scoring_everything(
    paths: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in paths.items():
        monkeypatch.setattr(search, name, value)
    catalog = Catalog(corpus(seed=1))
    check_against_reference(catalog, seed=1)
    check_against_reference(catalog, seed=1)  # again, now from the query cache


@pytest.mark.parametrize("seed", [3, 4])
def test_other_corpora_equal_scoring_everything(seed: int) -> None:
    check_against_reference(Catalog(corpus(seed, count=60)), seed, count=60)


def test_prefix_and_stem_expansion() -> None:
    catalog = Catalog(
        [
            item("long", title="Visitors", body="Our visitor log."),
            item("short", title="Visit", body="A visit."),
            item("other", title="Printers", body="Printing."),
        ]
    )
    # a half-typed word finds longer stems; a long form finds shorter stems
    assert {h.item.id for h in catalog.search("visi")} == {"long", "short"}
    assert {h.item.id for h in catalog.search("visitors")} == {"long", "short"}
    # exact stems count fully, expansions partly: the exact match ranks first
    assert catalog.search("visitors")[0].item.id == "long"
    assert catalog.search("visit")[0].item.id == "short"
    index = catalog._indexes[("en",)]
    assert index._expand("visi", "english") == {"visit": PREFIX_WEIGHT, "visitor": PREFIX_WEIGHT}
    assert index._expand("visitors", "english") == {"visitor": 1.0, "visit": PREFIX_WEIGHT}
    assert index._expand("zz", "english") == {}


def test_top_hits_equal_a_full_sort_for_any_page_size() -> None:
    catalog = Catalog(corpus(seed=5))
    full = catalog.search("visitor badge printer", first=1000)
    assert len(full) > 50
    assert [h.score for h in full] == sorted((h.score for h in full), reverse=True)
    for first in (1, 2, 7, 10, 33, len(full)):
        catalog._indexes[("en",)]._plans.clear()
        assert catalog.search("visitor badge printer", first=first) == full[:first]


def test_query_cache_is_bounded_and_shared_by_audiences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "PLANS", 4)
    monkeypatch.setattr(search, "KEPT", 5)
    catalog = Catalog(corpus(seed=6))
    top = catalog.search("visitor", first=3)
    index = catalog._indexes[("en",)]
    assert len(index._plans) == 1
    # another audience reads past what the cache kept: the ranking is computed again
    odd = catalog.search("visitor", first=8, where=lambda it: int(it.id[-1]) % 2 == 1)
    fresh = Catalog(corpus(seed=6)).search(
        "visitor", first=8, where=lambda it: int(it.id[-1]) % 2 == 1
    )
    assert odd == fresh
    assert catalog.search("visitor", first=3) == top
    for word in ("badge", "printer", "host", "desk", "guest"):
        catalog.search(word)
    assert len(index._plans) == 4
    assert ((("visitor",), "english")) not in index._plans  # the oldest went first


def test_a_new_release_is_a_new_catalog_with_its_own_caches() -> None:
    old = Catalog([item("a", title="Badge printer"), item("b", title="Visitor log")])
    assert [h.item.id for h in old.search("printer")] == ["a"]
    new = Catalog([item("a", title="Badge"), item("c", title="Printer setup")])
    assert [h.item.id for h in new.search("printer")] == ["c"]
    assert [h.item.id for h in old.search("printer")] == ["a"]  # the old one serves as before


def test_highlights_text_that_lowercases_unevenly() -> None:
    """Capital dotted I lowercases to two characters and capital sigma by context: such
    text is checked word by word, and highlights are the same."""
    body = "We opened İstanbul, İSTANBUL and ΟΔΟΣ offices. The ΟΔΟΣ team greets you."
    catalog = Catalog(
        [
            item("odd", summary="<b>Σ</b> team", body=body),
            item("plain", body="Istanbul office & team."),
        ]
    )
    expected_for = Reference([r.item for r in catalog.items()])
    for query in ("istanbul", "οδος", "office", "team", "stanbul"):
        got = {h.item.id: h.highlight for h in catalog.search(query)}
        assert [(i, t) for i, _, t in expected_for.search(query, "en", 10, None)] == list(
            got.items()
        )
    assert "and <mark>ΟΔΟΣ</mark> offices" in catalog.search("οδος")[0].highlight
    assert catalog.search("team")[0].highlight.startswith("&lt;b&gt;Σ&lt;/b&gt; <mark>team")


def test_highlight_escapes_around_marks_even_with_nul_characters() -> None:
    summary = "Visitor\x00 <i>badge</i> & visitor's \x00printer"
    catalog = Catalog([item("nul", summary=summary), item("plain", summary="A <visitor> & co")])
    hits = {h.item.id: h.highlight for h in catalog.search("visitor printer")}
    assert hits == {
        "nul": "<mark>Visitor</mark>\x00 &lt;i&gt;badge&lt;/i&gt; &amp; "
        "<mark>visitor</mark>&#x27;s \x00<mark>printer</mark>",
        "plain": "A &lt;<mark>visitor</mark>&gt; &amp; co",
    }


spans = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 140), st.integers(0, 3)), max_size=40
).map(lambda gaps: [(start, start + size, key) for (start, size, key) in _positions_from(gaps)])


def _positions_from(gaps: list[tuple[int, int, int]]) -> Iterator[tuple[int, int, int]]:
    at = 0
    for gap, size, key in gaps:
        at += gap + 1
        yield at, size, key
        at += size


@settings(max_examples=300, deadline=None)
@given(spans)
def test_window_equals_trying_every_anchor(matches: list[tuple[int, int, int]]) -> None:
    if not matches:
        return
    begins, ends, keys = zip(*matches, strict=True)
    assert search._window(begins, ends, keys, 4) == reference_window(list(begins), matches)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab Z_-1.,\t\n\x1féё—Σ"), max_size=60))
def test_word_positions_equal_the_word_pattern(text: str) -> None:
    expected: dict[str, list[int]] = {}
    for m in WORD.finditer(text.lower().replace(YO, YE)):
        expected.setdefault(m.group(), []).append(m.start())
    got = {word: list(at) for word, at in Analysis({}, 0.0, text).positions().items()}
    assert got == expected


def test_items_of_a_kind_are_indexed() -> None:
    items = corpus(seed=7)
    catalog = Catalog(items)
    for locale in ("en", "ru", "pt-br", "xx"):
        every = catalog.items(locale=locale)
        for kind in ("flow", "tip", "article", "none"):
            of_kind = catalog.items(kind=kind, locale=locale)
            assert of_kind == [r for r in every if r.item.kind == kind]
    # made-up locales are served as fallbacks, without a cache entry of their own
    flows = catalog.items(kind="flow", locale="zz")
    assert flows
    assert all(r.requested_locale == "zz" and r.is_fallback for r in flows)
    assert len(catalog._served_kinds) == len(catalog._served)


def test_hits_are_hits() -> None:
    hit = Catalog([item("a", title="Badge")]).search("badge")[0]
    assert isinstance(hit, Hit)
    assert hit.highlight == "<mark>Badge</mark> — Summary.", "a title match shows in the snippet"
