"""The release being served, in memory: lookup with locale fallback, lists, help, search.

A `Catalog` is immutable, so everything derived from it (served items per locale, context
index, search indexes) is computed once on first use and reused by every request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from api.content.model import Audience, Item
from api.content.search import Analysis, Hit, Index, analyze, language, word_forms

Filter = Callable[[Item], bool]


UNSEARCHED = frozenset({"badge", "milestone"})  # kinds search never returns


@dataclass(frozen=True)
class Resolved:
    """An item as served for a requested locale (`is_fallback`: not in that locale)."""

    item: Item
    requested_locale: str
    served_locale: str
    is_fallback: bool


class Catalog:
    """Read-only view over one release's items.

    `fallbacks` overrides the chain for a locale, e.g. `{"uk": ("uk", "ru", "en")}`; by
    default `pt-br` falls back to `pt` then to the default locale. With `fallback=False`
    only the requested locale is served, or its language (`ru` for `ru-RU`).

    `previous`: the catalog this one replaces; what it worked out for items that did not
    change (search analyses) is taken over, so a swap after one edit costs little.
    """

    def __init__(
        self,
        items: Iterable[Item],
        *,
        default_locale: str = "en",
        fallback: bool = True,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        previous: Catalog | None = None,
    ) -> None:
        self.default_locale = default_locale
        self.fallback = fallback
        self.fallbacks = {k.lower(): tuple(v) for k, v in (fallbacks or {}).items()}
        self._items = {item.key: item for item in items}
        self._ids = sorted({item_id for item_id, _ in self._items})
        self._locale_set = {locale for _, locale in self._items}
        self._served: dict[tuple[str, ...], list[Resolved]] = {}
        self._served_kinds: dict[tuple[str, ...], dict[str, list[Resolved]]] = {}
        self._analyses: dict[tuple[str, str], Analysis] = {}
        self._stems: dict[str | None, dict[str, str]] = {}  # language → word → stem
        self._forms: dict[str, tuple[str, ...]] = {}  # stem → words: one map for every index
        self._indexes: dict[tuple[str, ...], Index] = {}
        contexts: dict[str, set[str]] = {}
        for item in self._items.values():  # the same in every locale
            for context in item.contexts:
                contexts.setdefault(context, set()).add(item.id)
        self._contexts = {key: sorted(ids) for key, ids in contexts.items()}
        if previous is not None:
            self._stems = previous._stems  # word → stem: true of every release
            self._analyses = {
                key: analysis
                for key, analysis in previous._analyses.items()
                if previous._items.get(key) is self._items.get(key)
            }

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def item(self, item_id: str, locale: str) -> Item | None:
        """The item stored for exactly this locale (no fallback)."""
        return self._items.get((item_id, locale))

    @property
    def locales(self) -> list[str]:
        return sorted({locale for _, locale in self._items})

    def chain(self, locale: str | None, fallback: bool | None = None) -> tuple[str, ...]:
        """Locales to try, in order, for a request in `locale`."""
        requested = (locale or self.default_locale).lower()
        if not (self.fallback if fallback is None else fallback):
            return tuple(dict.fromkeys((requested, requested.split("-")[0])))
        if requested in self.fallbacks:
            steps = self.fallbacks[requested]
        else:
            steps = (requested, requested.split("-")[0], self.default_locale)
        return tuple(dict.fromkeys((requested, *steps, self.default_locale)))

    def get(
        self, item_id: str, locale: str | None = None, fallback: bool | None = None
    ) -> Resolved | None:
        chain = self.chain(locale, fallback)
        for candidate in chain:
            item = self._items.get((item_id, candidate))
            if item is not None:
                return Resolved(item, chain[0], candidate, candidate != chain[0])
        return None

    def items(
        self,
        *,
        kind: str | None = None,
        phase: str | None = None,
        tag: str | None = None,
        locale: str | None = None,
        where: Filter | None = None,
        fallback: bool | None = None,
        engaged: Collection[str] = (),
    ) -> list[Resolved]:
        """Served items sorted by id; `where` is the caller's audience/visibility filter.

        With `kind`, only the items of that kind are looked at. `engaged`: ids the viewer
        has progress on; with fallback off, those without the locale are still served in
        the default locale (a flow never vanishes from under someone half-way through it).
        """
        served = self._served_for(self.chain(locale, fallback), kind)
        if engaged and not (self.fallback if fallback is None else fallback):
            served = self._with_engaged(served, locale, kind, engaged)
        return [
            r
            for r in served
            if (phase is None or r.item.phase == phase)
            and (tag is None or tag in r.item.tags)
            and (where is None or where(r.item))
        ]

    def _with_engaged(
        self,
        served: list[Resolved],
        locale: str | None,
        kind: str | None,
        engaged: Collection[str],
    ) -> list[Resolved]:
        have = {r.item.id for r in served}
        extra = [
            found
            for item_id in engaged
            if item_id not in have
            and (found := self.get(item_id, locale, fallback=True)) is not None
            and (kind is None or found.item.kind == kind)
        ]
        if not extra:
            return served
        return sorted([*served, *extra], key=lambda r: r.item.id)

    def by_context(
        self,
        context: str,
        *,
        locale: str | None = None,
        roles: Collection[str] = (),
        where: Filter | None = None,
        first: int | None = None,
    ) -> list[Resolved]:
        """Help for a screen/element key: exact key first, then its parents (`a.b` for `a.b.c`).

        Items targeted at a role the viewer holds come before items for everyone; items
        targeted only at other roles are left out.
        """
        parts = context.split(".")
        keys = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
        ranked: dict[str, tuple[int, int]] = {}
        for depth, key in enumerate(keys):
            for item_id in self._contexts.get(key, ()):
                ranked.setdefault(item_id, (depth, 0))
        out: list[tuple[tuple[int, int, str], Resolved]] = []
        for item_id, (depth, _) in ranked.items():
            resolved = self.get(item_id, locale)
            if resolved is None or (where is not None and not where(resolved.item)):
                continue
            targeted = resolved.item.audience.roles
            if targeted and not set(targeted) & set(roles):
                continue
            out.append(((0 if targeted else 1, depth, item_id), resolved))
        out.sort(key=lambda pair: pair[0])
        return [r for _, r in (out if first is None else out[:first])]

    def search(
        self,
        query: str,
        *,
        locale: str | None = None,
        first: int = 10,
        where: Filter | None = None,
    ) -> list[Hit]:
        """Ranked hits among the items served in `locale` (with its fallbacks)."""
        chain = self.chain(locale)
        known = self._known(chain)
        index = self._indexes.get(known)  # one per chain of known locales, built on first use
        if index is None:
            # Help is what people read: badges and milestones are not answers to a question.
            items = [r.item for r in self._served_for(chain) if r.item.kind not in UNSEARCHED]
            analyses = [self._analysis(i) for i in items]
            self._forms.update(word_forms(self._stems))  # more words for older indexes is fine
            index = self._indexes[known] = Index(items, analyses, self._forms)
        return index.search(query, chain[0], first, where)

    def warm(self, locales: Iterable[str] | None = None) -> None:
        """Build the search indexes now (at release swap-in) rather than on the first search."""
        for locale in locales if locales is not None else self.locales:
            self.search("", locale=locale)

    def _known(self, chain: tuple[str, ...]) -> tuple[str, ...]:
        """The chain without locales no item has: cache keys stay bounded by the content,
        whatever locales requests make up."""
        return tuple(locale for locale in chain if locale in self._locale_set)

    def _served_for(self, chain: tuple[str, ...], kind: str | None = None) -> list[Resolved]:
        """Items served for `chain`, by id (only those of `kind` if given)."""
        known = self._known(chain)
        served = self._served.get(known)
        if served is None:
            served = []
            kinds: dict[str, list[Resolved]] = {}
            for item_id in self._ids:
                for candidate in known:
                    item = self._items.get((item_id, candidate))
                    if item is not None:
                        resolved = Resolved(item, known[0], candidate, candidate != known[0])
                        served.append(resolved)
                        kinds.setdefault(item.kind, []).append(resolved)
                        break
            self._served[known] = served
            self._served_kinds[known] = kinds
        if kind is not None:
            served = self._served_kinds[known].get(kind, [])
        if known[:1] == chain[:1]:
            return served
        return [Resolved(r.item, chain[0], r.served_locale, True) for r in served]

    def _analysis(self, item: Item) -> Analysis:
        found = self._analyses.get(item.key)
        if found is None:
            stems = self._stems.setdefault(language(item.locale), {})
            found = self._analyses[item.key] = analyze(item, stems)
        return found


def audience_matches(
    audience: Audience,
    roles: Collection[str] = (),
    attributes: Mapping[str, object] | None = None,
    locale: str | None = None,
    completed_flow_ids: Collection[str] = (),
) -> bool:
    """Whether a viewer is in an item's audience; every condition given must hold.

    Attribute values from the token may be scalars or lists (any value matching counts);
    `true`/`false` compare as the words, like in front matter. A `pt` audience takes
    `pt-br` viewers.
    """
    if audience.roles and not set(audience.roles) & set(roles):
        return False
    attributes = attributes or {}
    for name, allowed in audience.attributes.items():
        value = attributes.get(name)
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        if not {_text(v) for v in values if v is not None} & set(allowed):
            return False
    if audience.locales:
        viewer = (locale or "").lower()
        if viewer not in audience.locales and viewer.split("-")[0] not in audience.locales:
            return False
    return set(audience.after) <= set(completed_flow_ids)


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def is_live(item: Item, now: dt.datetime) -> bool:
    """Whether an announcement shows at `now`."""
    starts, ends = shown_between(item)
    moment = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return (starts is None or starts <= moment) and (ends is None or moment <= ends)


def shown_between(item: Item) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An announcement's first and last moment shown, in UTC (a time without a zone is UTC;
    a date-only `ends` includes that whole day)."""
    starts = _utc(item.starts) if item.starts else None
    ends = _utc(item.ends) if item.ends else None
    if ends is not None and item.ends is not None and len(item.ends) == DATE_ONLY:
        ends += dt.timedelta(days=1) - LAST_MOMENT
    return starts, ends


DATE_ONLY = len("2025-05-31")
LAST_MOMENT = dt.timedelta(microseconds=1)


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
