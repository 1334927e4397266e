"""Full-text search over one locale's served items: BM25 with stemming and highlights.

Titles weigh more than summaries, which weigh more than bodies. Words are stemmed with the
item's language; a query is stemmed with the viewer's language and with the language its
alphabet suggests, and a stem also matches longer stems that start with it ("visit" finds
"visitor"), so word forms and half-typed words both find the item.
"""

from __future__ import annotations

import html
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import snowballstemmer

from api.content.model import Item
from api.content.render import tree_text

LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "fi": "finnish", "fr": "french",
    "hu": "hungarian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "nb": "norwegian", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "tr": "turkish",
    "uk": "russian",
}  # fmt: skip
WEIGHTS = (3.0, 2.0, 1.0)  # title, summary, body
K1, B = 1.2, 0.75
PREFIX_WEIGHT = 0.6
SNIPPET = 160

_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_YO, _YE = (
    "\u0451",
    "\u0435",
)  # Russian writes yo (U+0451) as ye (U+0435) too; search treats them alike


@dataclass(frozen=True)
class Hit:
    item: Item
    score: float
    highlight: str  # HTML: escaped text with matches in <mark>


def language(locale: str | None) -> str | None:
    return LANGUAGES.get((locale or "").split("-")[0])


@cache
def _stemmer(name: str) -> snowballstemmer.Stemmer:
    return snowballstemmer.stemmer(name)


@lru_cache(maxsize=200_000)  # bounded: queries bring words the content never had
def stem(word: str, lang: str | None) -> str:
    return _stemmer(lang).stemWord(word) if lang else word


MAX_WORD = 40  # longer "words" are noise (or an attack on the stem cache)


def words(text: str) -> list[str]:
    return [w[:MAX_WORD].replace(_YO, _YE) for w in _WORD.findall(text.lower())]


def item_text(item: Item) -> str:
    """Body text for search: a flow's introduction plus each step's title and body."""
    parts = [tree_text(item.body_tree)]
    for step in item.steps:
        parts += [step.title, tree_text(step.body_tree)]
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Analysis:
    """An item's weighted term frequencies (independent of which locale serves it)."""

    terms: Counter[str]
    length: float
    text: str  # summary and body, for snippets


def analyze(item: Item) -> Analysis:
    lang = language(item.locale)
    text = item_text(item)
    terms: Counter[str] = Counter()
    length = 0.0
    for weight, field in zip(WEIGHTS, (item.title, item.summary, text), strict=True):
        tokens = words(field)
        length += weight * len(tokens)
        for token in tokens:
            terms[stem(token, lang)] += weight
    return Analysis(terms, length, f"{item.summary}\n{text}")


class Index:
    """BM25 over a fixed list of items (one locale's served items)."""

    def __init__(self, items: Sequence[Item], analyses: Sequence[Analysis]) -> None:
        self.items = items
        self.analyses = analyses
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for n, analysis in enumerate(analyses):
            for term, tf in analysis.terms.items():
                self.postings.setdefault(term, []).append((n, tf))
        self.vocabulary = sorted(self.postings)
        total = sum(a.length for a in analyses)
        self.average = total / len(analyses) if analyses else 1.0

    def search(
        self, query: str, locale: str | None, first: int, where: Callable[[Item], bool] | None
    ) -> list[Hit]:
        tokens = list(dict.fromkeys(words(query)))[:16]
        if not tokens or first <= 0:
            return []
        scores: dict[int, float] = {}
        matched: dict[int, int] = Counter()
        found_terms: set[str] = set()
        for token in tokens:
            expansions = self._expand(token, locale)
            found_terms |= expansions.keys()
            best: dict[int, float] = {}
            for term, weight in expansions.items():
                for doc, score in self._bm25(term):
                    best[doc] = max(best.get(doc, 0.0), weight * score)
            for doc, score in best.items():
                scores[doc] = scores.get(doc, 0.0) + score
                matched[doc] += 1
        ranked = sorted(
            ((score * matched[doc] / len(tokens), doc) for doc, score in scores.items()),
            key=lambda pair: (-pair[0], self.items[pair[1]].id),
        )
        hits: list[Hit] = []
        for score, doc in ranked:
            item = self.items[doc]
            if where is not None and not where(item):
                continue
            snippet = highlight(self.analyses[doc].text, found_terms, language(item.locale))
            hits.append(Hit(item, round(score, 4), snippet))
            if len(hits) == first:
                break
        return hits

    def _expand(self, token: str, locale: str | None) -> dict[str, float]:
        """Index terms a query word may mean, with how much a match counts."""
        langs = {language(locale), _script_language(token)}
        stems = {token} | {stem(token, lang) for lang in langs if lang}
        out: dict[str, float] = {}
        for s in stems:
            if s in self.postings:
                out[s] = 1.0
            if len(s) >= 3:  # longer words with this stem: "visit" → "visitor"
                for term in _with_prefix(self.vocabulary, s):
                    out.setdefault(term, PREFIX_WEIGHT)
            for cut in range(max(4, len(s) - 3), len(s)):  # shorter stems: "visitor" → "visit"
                if s[:cut] in self.postings:
                    out.setdefault(s[:cut], PREFIX_WEIGHT)
        return out

    def _bm25(self, term: str) -> Iterable[tuple[int, float]]:
        postings = self.postings.get(term, ())
        n = len(self.items)
        idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
        for doc, tf in postings:
            norm = K1 * (1 - B + B * self.analyses[doc].length / self.average)
            yield doc, idf * tf * (K1 + 1) / (tf + norm)


def _script_language(word: str) -> str | None:
    if _CYRILLIC.search(word):
        return "russian"
    return "english" if _LATIN.search(word) else None


def _with_prefix(vocabulary: Sequence[str], prefix: str, limit: int = 50) -> list[str]:
    start = bisect_left(vocabulary, prefix)
    out: list[str] = []
    for term in vocabulary[start : start + limit]:
        if not term.startswith(prefix):
            break
        out.append(term)
    return out


def highlight(text: str, terms: set[str], lang: str | None) -> str:
    """The ~160-character passage with the most query matches, escaped, matches in <mark>."""
    flat = re.sub(r"\s+", " ", text).strip()
    spans = [
        (m.start(), m.end(), key)
        for m in _WORD.finditer(flat)
        if (key := _match_key(m.group(), terms, lang)) is not None
    ]
    if not spans:
        return html.escape(_clip(flat, 0, SNIPPET))
    best_start, best_rank = 0, (-1, -1)
    for anchor, _, _ in spans:
        start = max(0, anchor - 30)
        inside = [s for s in spans if s[0] >= start and s[1] <= start + SNIPPET]
        rank = (len({key for _, _, key in inside}), len(inside))
        if rank > best_rank:
            best_start, best_rank = start, rank
    start = best_start if best_start == 0 else flat.find(" ", best_start) + 1 or best_start
    end = min(len(flat), start + SNIPPET)
    if end < len(flat):
        end = flat.rfind(" ", start, end) if " " in flat[start:end] else end
    out: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        out += [html.escape(flat[cursor:s]), "<mark>", html.escape(flat[s:e]), "</mark>"]
        cursor = e
    out += [html.escape(flat[cursor:end]), "…" if end < len(flat) else ""]
    return "".join(out)


def _match_key(word: str, terms: set[str], lang: str | None) -> str | None:
    lowered = word.lower().replace(_YO, _YE)
    stemmed = stem(lowered, lang)
    for candidate in (stemmed, lowered):
        if candidate in terms:
            return candidate
    return None


def _clip(text: str, start: int, size: int) -> str:
    if len(text) <= start + size:
        return text[start:]
    cut = text.rfind(" ", start, start + size)
    return text[start : cut if cut > start else start + size] + "…"
