"""Full-text search over one locale's served items: BM25 with stemming and highlights.

Titles weigh more than summaries, which weigh more than bodies. Words are stemmed with the
item's language; a query is stemmed with the viewer's language and with the language its
alphabet suggests, and a stem also matches longer stems that start with it ("visit" finds
"visitor"), so word forms and half-typed words both find the item.

Hits rank by how many query words they match, then by how many of those they match with a
whole stem rather than a prefix ("directories" is `directori`: an item about the directory
ranks above one that only says "direct"), then by BM25. The three are one number, so every
way of ranking below ranks by it: each query word gives a document `match` (+ `whole` for a
whole stem) + its BM25 score, with `whole` above any sum of BM25 scores and `match` above
any sum of the rest (constants of the index, for queries of up to MAX_TOKENS words).
`Hit.score` is the three read back from that number, scaled into (0, 1).

A search costs well under a millisecond because the work is done when a release loads: the
index holds every term's BM25 score in every item, by item and best first (a term in many
items also as one score per item). A query ranks only as far as its page needs: by the
threshold algorithm (read each word's items best first until no unread item can rank
higher), or, when scores barely vary between items, by summing per-item lists in a few
passes; rare words score their few items directly. Only the returned page is highlighted,
from word positions each item computes on its first highlight. Every way gives exactly the
hits, scores and highlights of scoring and checking everything (tests/test_content_search.py).
An index also keeps the rankings and highlights of its recent queries.
"""

from __future__ import annotations

import heapq
import html
import math
import re
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate, compress, islice
from operator import add, itemgetter

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
MAX_TOKENS = 16  # query words looked at
SNIPPET = 160
DENSE_SHARE = 8  # a term in at least 1/8 of the items is also kept as one score per item
SPARSE_WORK = 256  # a query whose terms are in fewer documents than this scores all of them
THRESHOLD_READS = 32  # documents a ranking reads best first (or 1/16 of them if more)
READ_SHARE = 16  # before it scores all of them
PLANS = 128  # recent queries whose ranking and highlights an index keeps,
KEPT = 50  # up to this many of each

_WORD = re.compile(r"\w+")
_WORD_SPLIT = re.compile(r"(\w+)")
_ASCII_SEPARATORS = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_YO, _YE = (
    "\u0451",
    "\u0435",
)  # Russian writes yo (U+0451) as ye (U+0435) too; search treats them alike
# Lowercasing maps one character to one everywhere except in these: capital I with dot
# (U+0130) becomes two characters, and capital sigma (U+03A3) becomes the final or the other
# small sigma depending on its neighbours. Text with them is highlighted word by word; other
# text from word positions found in its lowercased copy.
_CONTEXT_CASE = ("\u0130", "\u03a3")


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
    return [w[:MAX_WORD] for w in _tokens(text.lower().replace(_YO, _YE))]


def _tokens(text: str) -> list[str]:
    """The `\\w+` runs of `text`; for ASCII text by a faster route to the same list."""
    if text.isascii():
        return text.translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(text)


def _flatten(text: str) -> str:
    """Whitespace runs as one space, none at the ends (`\\s` is `str.isspace`)."""
    return " ".join(text.split())


def item_text(item: Item) -> str:
    """Body text for search: a flow's introduction plus each step's title and body."""
    parts = [tree_text(item.body_tree)]
    for step in item.steps:
        parts += [step.title, tree_text(step.body_tree)]
    return "\n".join(p for p in parts if p)


def item_fields(item: Item) -> tuple[str, str, str]:
    """What search weighs as title, summary and body (`WEIGHTS`). A flow's step titles also
    count as its summary: each says what a part of the flow is about."""
    steps = " ".join(step.title for step in item.steps)
    return item.title, f"{item.summary} {steps}" if steps else item.summary, item_text(item)


class Analysis:
    """An item's weighted term frequencies (independent of which locale serves it)."""

    __slots__ = ("_positions", "length", "plain_case", "terms", "text")

    def __init__(self, terms: Mapping[str, float], length: float, text: str) -> None:
        self.terms = terms
        self.length = length
        self.text = text  # summary and body, whitespace runs as one space: what snippets quote
        # whether lowercasing maps `text` character for character (see `_CONTEXT_CASE`)
        self.plain_case = not any(c in text for c in _CONTEXT_CASE)
        self._positions: dict[str, array[int]] | None = None

    def positions(self) -> dict[str, array[int]]:
        """Where each word of `text` starts, by the word lowercased (`words` without the cut).

        Computed on the first highlight of the item, as most items are never on a page.
        """
        found = self._positions
        if found is None:
            lowered = self.text.lower().replace(_YO, _YE)
            if lowered.isascii():  # the words and what is between them, by a faster route
                parts = lowered.translate(_ASCII_SEPARATORS).split(" ")
                starts = accumulate(map((1).__add__, map(len, parts)), initial=0)
                found_words = compress(zip(parts, starts, strict=False), parts)  # one start more
            else:
                parts = _WORD_SPLIT.split(lowered)
                offsets = list(accumulate(map(len, parts), initial=0))
                found_words = zip(parts[1::2], offsets[1:-1:2], strict=True)
            grouped: dict[str, list[int]] = {}
            for word, start in found_words:
                at = grouped.get(word)
                if at is None:
                    grouped[word] = [start]
                else:
                    at.append(start)
            found = self._positions = {w: array("I", at) for w, at in grouped.items()}
        return found


def analyze(item: Item, stems: MutableMapping[str, str] | None = None) -> Analysis:
    """The item's terms. `stems` (word → stem in the item's language) is read and added to:
    a catalog passes one per language, as most words recur from item to item."""
    lang = language(item.locale)
    stems = {} if stems is None else stems
    fields = item_fields(item)
    terms: dict[str, float] = {}
    length = 0.0
    for weight, field in zip(WEIGHTS, fields, strict=True):
        counts = Counter(_tokens(field.lower().replace(_YO, _YE)))
        length += weight * counts.total()
        for word, count in counts.items():
            key = stems.get(word)
            if key is None:
                key = stems[word] = stem(word, lang)
            if len(word) > MAX_WORD:
                key = stem(word[:MAX_WORD], lang)
            terms[key] = terms.get(key, 0.0) + weight * count
    return Analysis(terms, length, _flatten(f"{item.summary}\n{fields[2]}"))


def word_forms(stems: Mapping[str | None, Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    """Stem → the words with that stem, from `analyze`'s `stems` for each language."""
    forms: dict[str, list[str]] = {}
    for by_word in stems.values():
        for word, key in by_word.items():
            found = forms.get(key)
            if found is None:
                forms[key] = [word]
            else:
                found.append(word)
    return {key: tuple(dict.fromkeys(found)) for key, found in forms.items()}


Value = tuple[float, float]  # how a query word counts a term: (BM25 weight, offset)


class _Postings:
    """One term's BM25 score in each document that has it, by document and best first.

    A term in many documents also has `dense`: its score in every document, 0 if not in it.
    """

    __slots__ = ("best_docs", "best_scores", "dense", "docs", "scores", "valued")

    def __init__(self, docs: list[int], scores: list[float], size: int) -> None:
        self.docs = array("i", docs)
        self.scores = array("d", scores)
        order = sorted(range(len(docs)), key=scores.__getitem__, reverse=True)
        self.best_docs = array("i", [docs[n] for n in order])
        self.best_scores = array("d", [scores[n] for n in order])
        self.dense: list[float] | None = None
        self.valued: dict[Value, array[float]] = {}  # `dense`, valued: see `valued_dense`
        if len(docs) * DENSE_SHARE >= size:
            self.dense = dense = [0.0] * size
            for doc, score in zip(docs, scores, strict=True):
                dense[doc] = score

    def stream(self, value: Value) -> Iterator[tuple[float, int]]:
        """(valued score, document), best first."""
        weight, offset = value
        scores = (weight * score + offset for score in self.best_scores)
        return zip(scores, self.best_docs, strict=True)

    def valued_dense(self, value: Value) -> array[float]:
        """`dense` with each score valued (0 stays 0); made once per value (an index has two
        for a term: as a whole stem and as a prefix)."""
        found = self.valued.get(value)
        if found is None:
            assert self.dense is not None
            weight, offset = value
            found = self.valued[value] = array(
                "d", [weight * score + offset if score else 0.0 for score in self.dense]
            )
        return found

    def lookup(self, value: Value) -> Callable[[int], float]:
        """A document's valued score (0 if the term is not in it)."""
        weight, offset = value
        if self.dense is not None:
            dense = self.dense
            return lambda doc: weight * score + offset if (score := dense[doc]) else 0.0
        get = dict(zip(self.docs, self.scores, strict=True)).get
        return lambda doc: weight * score + offset if (score := get(doc)) else 0.0


class Index:
    """BM25 over a fixed list of items (one locale's served items).

    `forms` maps a stem to the lowercased words of the items' text with that stem (more is
    harmless: the catalog shares one map between its indexes); without it the index collects
    its own.
    """

    def __init__(
        self,
        items: Sequence[Item],
        analyses: Sequence[Analysis],
        forms: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        # Documents are numbered in id order: equal scores rank by id, i.e. by number.
        order = sorted(range(len(items)), key=lambda n: items[n].id)
        self.items = [items[n] for n in order]
        self.analyses = [analyses[n] for n in order]
        self.languages = [language(item.locale) for item in self.items]
        n = self.size = len(self.items)
        total = sum(a.length for a in self.analyses)
        self.average = total / n if n else 1.0
        norms = [K1 * (1 - B + B * a.length / self.average) for a in self.analyses]
        docs: dict[str, list[int]] = {}
        tfs: dict[str, list[float]] = {}
        for doc, analysis in enumerate(self.analyses):
            for term, tf in analysis.terms.items():
                having = docs.get(term)
                if having is None:
                    docs[term], tfs[term] = [doc], [tf]
                else:
                    having.append(doc)
                    tfs[term].append(tf)
        self.postings: dict[str, _Postings] = {}
        for term, having in docs.items():
            df = len(having)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            scores = [
                idf * tf * (K1 + 1) / (tf + norms[doc])
                for doc, tf in zip(having, tfs[term], strict=True)
            ]
            self.postings[term] = _Postings(having, scores, n)
        self.top = max((p.best_scores[0] for p in self.postings.values()), default=0.0)
        self.whole = MAX_TOKENS * self.top + 1.0  # more than any sum of BM25 scores
        self.match = MAX_TOKENS * (self.whole + self.top) + 1.0  # more than any sum of the rest
        self.vocabulary = sorted(self.postings)
        if forms is None:
            own: dict[str | None, dict[str, str]] = {}
            for analysis, lang in zip(self.analyses, self.languages, strict=True):
                for word in analysis.positions():
                    own.setdefault(lang, {})[word] = stem(word, lang)
            forms = word_forms(own)
        self.forms = forms
        self._plans: OrderedDict[tuple[tuple[str, ...], str | None], _Plan] = OrderedDict()

    def search(
        self, query: str, locale: str | None, first: int, where: Callable[[Item], bool] | None
    ) -> list[Hit]:
        tokens = tuple(dict.fromkeys(words(query)))[:MAX_TOKENS]
        if not tokens or first <= 0:
            return []
        key = (tokens, language(locale))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(self, tokens, key[1])
            if len(self._plans) > PLANS:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        hits: list[Hit] = []
        for doc, score in plan.ranked():
            item = self.items[doc]
            if where is not None and not where(item):
                continue
            hits.append(Hit(item, round(score, 4), plan.highlight(doc)))
            if len(hits) == first:
                break
        return hits

    def _expand(self, token: str, lang: str | None) -> dict[str, float]:
        """Index terms a query word may mean, with how much a match counts."""
        langs = {lang, _script_language(token)}
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

    def rank(
        self, tokens: Sequence[str], lang: str | None
    ) -> tuple[Iterator[tuple[int, float]], list[dict[str, float]]]:
        """(document, score) best first, ties by id, lazily; and each query word's index
        terms, with their weights (1.0: a whole stem).

        A document's score is the sum over query words of its best-valued expansion (see the
        module's docstring), scaled into (0, 1).
        """
        weights = [self._expand(token, lang) for token in tokens]
        values = {1.0: (1.0, self.match + self.whole), PREFIX_WEIGHT: (PREFIX_WEIGHT, self.match)}
        expansions = [{term: values[w] for term, w in e.items()} for e in weights]
        work = sum(len(self.postings[term].docs) for e in expansions for term in e)
        if work <= SPARSE_WORK:
            ranking = self._rank_sparse(expansions)
        elif self._flat(weights):
            ranking = self._rank_dense(expansions)
        else:
            ranking = self._rank_threshold(expansions)
        count = len(tokens)
        return ((doc, self._score(total, count)) for doc, total in ranking), weights

    def _score(self, total: float, count: int) -> float:
        """A ranking number as a score in (0, 1): the words matched, of them the whole stems,
        and the BM25 sum, read back from it (their parts never overlap) and put in order."""
        matched, rest = divmod(total, self.match)
        whole, bm25 = divmod(rest, self.whole)
        tail = (whole + bm25 / (count * self.top + 1.0)) / (count + 1)  # below 1
        return (matched - 1 + tail) / count

    def _flat(self, expansions: list[dict[str, float]]) -> bool:
        """Whether the query words' scores barely fall over the documents the threshold
        algorithm may read: it would read them all in vain (a guess: both ways are exact)."""
        words = [expansion for expansion in expansions if expansion]
        reads = max(THRESHOLD_READS, self.size // READ_SHARE) // max(1, len(words))
        if len(words) < 2 or reads <= 16:
            return False

        def bound(depth: int) -> float:
            total = 0.0
            for expansion in words:
                best = 0.0
                for term, weight in expansion.items():
                    scores = self.postings[term].best_scores
                    if depth < len(scores) and weight * scores[depth] > best:
                        best = weight * scores[depth]
                total += best
            return total

        return bound(reads) > 0.8 * bound(16)

    def _rank_sparse(self, expansions: list[dict[str, Value]]) -> Iterator[tuple[int, float]]:
        """Every matching document scored: for queries whose terms are in few documents."""
        scores: dict[int, float] = {}
        for expansion in expansions:
            best: dict[int, float] = {}
            for term, (weight, offset) in expansion.items():
                postings = self.postings[term]
                for doc, score in zip(postings.docs, postings.scores, strict=True):
                    valued = weight * score + offset
                    if valued > best.get(doc, 0.0):
                        best[doc] = valued
            for doc, score in best.items():
                scores[doc] = scores.get(doc, 0.0) + score
        for doc in sorted(scores, key=lambda doc: (-scores[doc], doc)):
            yield doc, scores[doc]

    def _rank_threshold(self, expansions: list[dict[str, Value]]) -> Iterator[tuple[int, float]]:
        """Fagin's threshold algorithm: read each query word's documents best first, score
        each new one in full, and emit a document once no unread one can score as much.

        When that reads too many documents (the words' scores barely vary between documents)
        the rest of the ranking comes from `_rank_dense`.
        """
        streams: list[Iterator[tuple[float, int]] | None] = []
        lookups: list[Callable[[int], float]] = []
        for expansion in expansions:
            if expansion:
                stream, lookup = self._word(expansion)
                streams.append(stream)
                lookups.append(lookup)
        heap: list[tuple[float, int]] = []  # (-score, doc) read but not yet emitted
        seen: set[int] = set()
        budget = max(THRESHOLD_READS, self.size // READ_SHARE)
        emitted = 0
        while True:
            bound, live = 0.0, 0  # the most the words give a document not read yet
            for n, stream in enumerate(streams):
                if stream is None:
                    continue
                pair = next(stream, None)
                if pair is None:
                    streams[n] = None
                    continue
                value, doc = pair
                bound += value
                live += 1
                if doc not in seen:
                    seen.add(doc)
                    heapq.heappush(heap, (-sum(lookup(doc) for lookup in lookups), doc))
            threshold = bound if live else -1.0
            while heap and -heap[0][0] > threshold:
                negative, doc = heapq.heappop(heap)
                yield doc, -negative
                emitted += 1
            if not live:
                return
            if len(seen) > budget:
                yield from islice(self._rank_dense(expansions), emitted, None)
                return

    def _word(
        self, expansion: dict[str, Value]
    ) -> tuple[Iterator[tuple[float, int]], Callable[[int], float]]:
        """For one query word: (its value, document) best first, where a document may come
        again later with a lower value from another expansion; and a document's value."""
        streams = [self.postings[term].stream(value) for term, value in expansion.items()]
        lookups = [self.postings[term].lookup(value) for term, value in expansion.items()]
        if len(lookups) == 1:
            return streams[0], lookups[0]
        merged = heapq.merge(*streams, key=itemgetter(0), reverse=True)

        def best(doc: int) -> float:  # for the few documents read: no list of them all
            return max(lookup(doc) for lookup in lookups)

        return merged, best

    def _rank_dense(self, expansions: list[dict[str, Value]]) -> Iterator[tuple[int, float]]:
        """Every document's sum of its query words' values, in a few passes over
        per-document lists: for queries of words in most documents."""
        bests = [self._best(expansion) for expansion in expansions if expansion]
        if not bests:
            return
        totals: Sequence[float] = bests[0]
        if len(bests) > 1:
            summed: Iterator[float] = map(add, bests[0], bests[1])
            for best in bests[2:]:
                summed = map(add, summed, best)
            totals = list(summed)
        matching = len(totals) - totals.count(0.0)
        taken, chunk = 0, 16
        while taken < matching:
            wanted = min(matching, taken + chunk)
            floor = heapq.nlargest(wanted, totals)[-1]
            candidates = [doc for doc, total in enumerate(totals) if total >= floor]
            candidates.sort(key=lambda doc: (-totals[doc], doc))
            for doc in candidates[taken:wanted]:
                yield doc, totals[doc]
            taken, chunk = wanted, chunk * 4

    def _best(self, expansion: dict[str, Value]) -> array[float]:
        """Per document, the best value among a query word's expansions (0 if none)."""
        terms = sorted(expansion, key=lambda term: -len(self.postings[term].docs))
        widest = self.postings[terms[0]]
        weight, offset = expansion[terms[0]]
        if widest.dense is not None:
            valued = widest.valued_dense((weight, offset))
            if len(terms) == 1:
                return valued
            best = array("d", valued)
        else:
            best = array("d", [0.0]) * self.size
            for doc, score in zip(widest.docs, widest.scores, strict=True):
                best[doc] = weight * score + offset
        for term in terms[1:]:
            postings = self.postings[term]
            weight, offset = expansion[term]
            for doc, score in zip(postings.docs, postings.scores, strict=True):
                value = weight * score + offset
                if value > best[doc]:
                    best[doc] = value
        return best


class _Plan:
    """One query against one index: its ranking, read as far as requests needed, and the
    highlights of the documents shown so far."""

    def __init__(self, index: Index, tokens: tuple[str, ...], lang: str | None) -> None:
        self.index = index
        self.tokens = tokens
        self.lang = lang
        self.terms: set[str] | None = None
        self.words: list[dict[str, float]] = []  # each query word's terms and weights
        self.prefix: list[tuple[int, float]] = []  # the ranking's start
        self.complete = False  # whether `prefix` is the whole ranking
        self.highlights: dict[int, str] = {}
        self._keys: dict[str | None, dict[str, int]] = {}

    def ranked(self) -> Iterator[tuple[int, float]]:
        yield from self.prefix
        if self.complete:
            return
        ranking, self.words = self.index.rank(self.tokens, self.lang)
        self.terms = {term for word in self.words for term in word}
        seen = position = len(self.prefix)
        for position, pair in enumerate(ranking, 1):
            if position > seen:
                if position <= KEPT:
                    self.prefix.append(pair)
                yield pair
        self.complete = position <= KEPT

    def highlight(self, doc: int) -> str:
        found = self.highlights.get(doc)
        if found is None:
            found = self._highlight(doc)
            if len(self.highlights) < KEPT:
                self.highlights[doc] = found
        return found

    def _highlight(self, doc: int) -> str:
        """The snippet of the item's summary and body; when only its title matched, of the
        title followed by them, so every hit shows what it matched. Only the terms that
        counted are marked: a word's whole stem where the item has it, not its prefixes."""
        assert self.terms is not None  # set by `ranked`
        counted = matched_terms(self.words, self.index.analyses[doc].terms)
        found = self._text_highlight(doc, counted)
        if "<mark>" in found:  # text's own `<mark>` would be escaped
            return found
        title = self.index.items[doc].title
        text = self.index.analyses[doc].text
        return highlight(f"{title} — {text}", counted, self.index.languages[doc])

    def _text_highlight(self, doc: int, counted: set[str]) -> str:
        assert self.terms is not None
        analysis, lang = self.index.analyses[doc], self.index.languages[doc]
        if not analysis.plain_case:
            return highlight(analysis.text, counted, lang)
        positions = analysis.positions()
        keys = self._keys.get(lang)
        if keys is None:
            keys = self._keys[lang] = self._words(lang)
        if counted != self.terms:
            numbers = {term: n for n, term in enumerate(self.terms)}  # as `_words` numbers
            wanted = {numbers[term] for term in counted}
            keys = {word: key for word, key in keys.items() if key in wanted}
        spans: list[tuple[int, int, int]] = []
        if len(keys) <= len(positions):
            for word, key in keys.items():
                starts = positions.get(word)
                if starts is not None:
                    spans += [(start, start + len(word), key) for start in starts]
        else:
            for word, starts in positions.items():
                key = keys.get(word)
                if key is not None:
                    spans += [(start, start + len(word), key) for start in starts]
        spans.sort()
        return _snippet(analysis.text, spans, len(self.terms))

    def _words(self, lang: str | None) -> dict[str, int]:
        """Lowercased words of `lang` items that highlight, with the term each one matches
        (numbered in the order of `terms`)."""
        assert self.terms is not None
        numbers = {term: n for n, term in enumerate(self.terms)}
        forms = self.index.forms
        out: dict[str, int] = {}
        for term in self.terms:
            for word in (term, *forms.get(term, ())):
                if word not in out and (key := _term_key(word, self.terms, lang)) is not None:
                    out[word] = numbers[key]
        return out


def matched_terms(words: Sequence[Mapping[str, float]], terms: Mapping[str, float]) -> set[str]:
    """The index terms that counted for a document (`terms`, its analysis): for each query
    word, its whole-stem terms the document has, or else the prefix terms it has."""
    out: set[str] = set()
    for word in words:
        whole = {term for term, weight in word.items() if weight == 1.0 and term in terms}
        out |= whole or {term for term in word if term in terms}
    return out


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
    flat = _flatten(text)
    numbers: dict[str, int] = {}
    spans = [
        (m.start(), m.end(), numbers.setdefault(key, len(numbers)))
        for m in _WORD.finditer(flat)
        if (key := _match_key(m.group(), terms, lang)) is not None
    ]
    return _snippet(flat, spans, len(numbers))


def _snippet(flat: str, spans: list[tuple[int, int, int]], terms: int) -> str:
    """The passage of `flat` with the most distinct matched terms, then the most matches.

    `spans` (start, end, term number below `terms`) are the matches in order; a window starts
    30 characters before a match (the first such window wins a tie) and holds the matches
    within SNIPPET characters of its start.
    """
    if not spans:
        return html.escape(_clip(flat, 0, SNIPPET))
    begins, ends, numbers = zip(*spans, strict=True)
    start = _window(begins, ends, numbers, terms)
    start = start if start == 0 else flat.find(" ", start) + 1 or start
    end = min(len(flat), start + SNIPPET)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space >= 0 else end
    # The passage with a NUL before and after each match, escaped at once (escaping is by
    # character), then the NULs become the tags; a passage with a NUL of its own is escaped
    # piece by piece.
    tags = "\x00" not in flat[start:end]
    out: list[str] = []
    cursor = start
    for n in range(bisect_left(begins, start), len(spans)):
        s, e = begins[n], ends[n]
        if e > end:
            break
        if tags:
            out += [flat[cursor:s], "\x00", flat[s:e], "\x00"]
        else:
            out += [html.escape(flat[cursor:s]), "<mark>", html.escape(flat[s:e]), "</mark>"]
        cursor = e
    if tags:
        marked = html.escape("".join(out) + flat[cursor:end]).split("\x00")
        marked[1::2] = [f"<mark>{match}</mark>" for match in marked[1::2]]
        body = "".join(marked)
    else:
        body = "".join(out) + html.escape(flat[cursor:end])
    return ("…" if start > 0 else "") + body + ("…" if end < len(flat) else "")


def _window(begins: Sequence[int], ends: Sequence[int], numbers: Sequence[int], terms: int) -> int:
    """Where the snippet's window starts (see `_snippet`), sliding over the matches once."""
    count = len(begins)
    inside = [0] * terms  # matches of each term in the window: spans[low:high]
    distinct = low = high = 0
    best_start, best_rank = 0, -1
    for anchor in begins:
        start = anchor - 30 if anchor > 30 else 0
        while begins[low] < start:  # stops at the anchor's own match at the latest
            if low < high:
                number = numbers[low]
                inside[number] -= 1
                if not inside[number]:
                    distinct -= 1
            low += 1
        if high < low:
            high = low
        limit = start + SNIPPET
        while high < count and ends[high] <= limit:
            number = numbers[high]
            if not inside[number]:
                distinct += 1
            inside[number] += 1
            high += 1
        rank = distinct << 32 | (high - low)  # (distinct terms, matches)
        if rank > best_rank:
            best_start, best_rank = start, rank
    return best_start


def _match_key(word: str, terms: set[str], lang: str | None) -> str | None:
    return _term_key(word.lower().replace(_YO, _YE), terms, lang)


def _term_key(lowered: str, terms: set[str], lang: str | None) -> str | None:
    """The query term a (lowercased) word of the text matches: by its stem, or as it is."""
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
