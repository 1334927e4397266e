"""Serving a release from memory: locale fallback, listing, contextual help, search, audience."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from api.content import Audience, Catalog, Item, audience_matches, is_live
from api.content.render import parse as parse_markdown
from api.content.render import to_tree


def item(item_id: str, locale: str = "en", body: str = "", **fields: Any) -> Item:
    tree = to_tree(parse_markdown(body, {}))
    defaults: dict[str, Any] = {
        "kind": "article",
        "title": item_id.replace("-", " ").title(),
        "summary": "Summary.",
        "phase": "enable",
    }
    return Item(
        id=item_id, locale=locale, body_markdown=body, body_tree=tree, **(defaults | fields)
    )


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        [
            item("b-card", kind="tip", tags=("billing",), contexts=("settings.billing",)),
            item("b-card", "ru", title="Карта"),
            item("b-card", "pt", title="Cartão"),
            item("a-guide", phase="explore", contexts=("settings",)),
            item(
                "c-admins",
                contexts=("settings.billing",),
                audience=Audience(roles=("billing",)),
            ),
            item("d-it", contexts=("settings.billing",), audience=Audience(roles=("it_admin",))),
        ]
    )


def test_get_follows_the_fallback_chain(catalog: Catalog) -> None:
    ru = catalog.get("b-card", "ru")
    assert ru is not None
    assert ru.item.title == "Карта"
    assert not ru.is_fallback
    guide = catalog.get("a-guide", "ru")
    assert guide is not None
    assert guide.served_locale == "en"
    assert guide.is_fallback
    assert guide.requested_locale == "ru"
    region = catalog.get("b-card", "pt-BR")
    assert region is not None
    assert region.served_locale == "pt"
    assert region.is_fallback
    assert catalog.get("a-guide", "ru", fallback=False) is None
    assert catalog.get("missing", "en") is None
    assert catalog.chain("pt-br") == ("pt-br", "pt", "en")


def test_fallback_can_be_configured_or_turned_off() -> None:
    items = [item("x"), item("x", "ru", title="Икс")]
    uk = Catalog(items, fallbacks={"uk": ("uk", "ru")})
    resolved = uk.get("x", "uk")
    assert resolved is not None
    assert resolved.served_locale == "ru"
    assert uk.chain("uk") == ("uk", "ru", "en")
    strict = Catalog(items, fallback=False)
    assert strict.get("x", "de") is None
    assert [r.item.locale for r in strict.items(locale="ru")] == ["ru"]


def test_items_are_filtered_and_sorted_by_id(catalog: Catalog) -> None:
    assert [r.item.id for r in catalog.items()] == ["a-guide", "b-card", "c-admins", "d-it"]
    assert [r.item.id for r in catalog.items(kind="tip")] == ["b-card"]
    assert [r.item.id for r in catalog.items(phase="explore")] == ["a-guide"]
    assert [r.item.id for r in catalog.items(tag="billing")] == ["b-card"]
    ru = catalog.items(locale="ru")
    assert [(r.item.id, r.served_locale) for r in ru][:2] == [("a-guide", "en"), ("b-card", "ru")]
    visible = catalog.items(where=lambda i: audience_matches(i.audience, roles=["billing"]))
    assert [r.item.id for r in visible] == ["a-guide", "b-card", "c-admins"]


def test_by_context_ranks_role_targeted_then_exact_then_parents(catalog: Catalog) -> None:
    ranked = catalog.by_context("settings.billing.card", roles=["billing"])
    assert [r.item.id for r in ranked] == ["c-admins", "b-card", "a-guide"]
    assert [r.item.id for r in catalog.by_context("settings.billing")] == ["b-card", "a-guide"]
    assert (
        next(r.item.title for r in catalog.by_context("settings.billing", locale="ru")) == "Карта"
    )
    assert catalog.by_context("nowhere") == []
    assert len(catalog.by_context("settings.billing", roles=["it_admin"], first=1)) == 1


SEARCH = [
    item(
        "check-in",
        title="Check in visitors",
        body="When visitors arrive, the host is notified. Visiting hours are set per office.",
    ),
    item("badges", title="Print badges", body="Badges print on arrival of each guest."),
    item("billing", title="Billing", summary="Cards and invoices.", body="Add a company card."),
    item(
        "check-in",
        "ru",
        title="Регистрация посетителей",
        body="Когда посетитель приходит, хозяин получает уведомление. "
        "Список посетителей <b>тут</b>.",
    ),
]


@pytest.mark.parametrize("query", ["visitors", "visitor", "visiting", "VISIT", "visito"])
def test_search_finds_english_word_forms(query: str) -> None:
    hits = Catalog(SEARCH).search(query)
    assert hits
    assert hits[0].item.id == "check-in"
    assert "<mark>" in hits[0].highlight


def test_search_ranks_title_matches_first_and_highlights() -> None:
    hits = Catalog(SEARCH).search("badges guest")
    assert [h.item.id for h in hits] == ["badges"]
    assert (
        hits[0].highlight
        == "Summary. <mark>Badges</mark> print on arrival of each <mark>guest</mark>."
    )
    assert hits[0].score > 0
    assert Catalog(SEARCH).search("nothing-like-this") == []
    assert Catalog(SEARCH).search("   ") == []


@pytest.mark.parametrize("query", ["посетителей", "посетитель", "Посетители"])
def test_search_finds_russian_word_forms(query: str) -> None:
    hits = Catalog(SEARCH).search(query, locale="ru")
    assert hits[0].item.id == "check-in"
    assert hits[0].item.locale == "ru"
    highlight = hits[0].highlight
    assert "<mark>посетитель</mark>" in highlight.lower() or "<mark>посетителей</mark>" in highlight
    assert "&lt;b&gt;тут&lt;/b&gt;" in highlight  # the rest is escaped, safe to inject


def test_cyrillic_query_uses_russian_stemming_in_any_locale() -> None:
    hits = Catalog(SEARCH).search("посетителям", locale="en")
    assert [h.item.id for h in hits] == []  # english locale serves the english item only
    hits = Catalog(SEARCH).search("visitors", locale="ru")  # latin query, russian viewer
    assert [h.item.id for h in hits] == []
    # an english item quoting russian text is still found by russian word forms
    mixed = Catalog([*SEARCH, item("quote", body="The sign says «Посетители и гости».")])
    assert [h.item.id for h in mixed.search("посетителям", locale="en")] == ["quote"]


def test_search_respects_where_and_first() -> None:
    catalog = Catalog(SEARCH)
    catalog.warm()
    assert catalog.search("visitors badges", first=1)[0].item.id in {"check-in", "badges"}
    assert len(catalog.search("visitors badges", first=1)) == 1
    assert catalog.search("visitors", where=lambda i: i.id != "check-in") == []


def test_long_highlight_is_clipped_around_the_match() -> None:
    body = "filler " * 60 + "the reception desk " + "padding " * 60
    hits = Catalog([item("long", body=body)]).search("reception")
    text = hits[0].highlight
    assert text.startswith("…")
    assert text.endswith("…")
    assert "<mark>reception</mark>" in text
    assert len(text.replace("<mark>", "").replace("</mark>", "")) <= 170


def test_audience_matches() -> None:
    everyone = Audience()
    assert audience_matches(everyone)
    targeted = Audience(
        roles=("admin", "billing"),
        attributes={"plan": ("pro", "enterprise"), "beta": ("true",)},
        locales=("en", "pt"),
        after=("setup",),
    )
    viewer: dict[str, Any] = {
        "roles": ["billing"],
        "attributes": {"plan": "pro", "beta": True},
        "locale": "pt-br",
        "completed_flow_ids": {"setup", "other"},
    }
    assert audience_matches(targeted, **viewer)
    assert not audience_matches(targeted, **(viewer | {"roles": ["viewer"]}))
    assert not audience_matches(
        targeted, **(viewer | {"attributes": {"plan": "free", "beta": True}})
    )
    assert not audience_matches(targeted, **(viewer | {"attributes": {"plan": "pro"}}))
    assert audience_matches(
        targeted, **(viewer | {"attributes": {"plan": ["free", "pro"], "beta": "true"}})
    )
    assert not audience_matches(targeted, **(viewer | {"locale": "ru"}))
    assert not audience_matches(targeted, **(viewer | {"locale": None}))
    assert not audience_matches(targeted, **(viewer | {"completed_flow_ids": set()}))


def test_announcements_show_between_their_dates() -> None:
    news = item("news", kind="announcement", starts="2025-05-01", ends="2025-05-31")
    utc = dt.UTC
    assert not is_live(news, dt.datetime(2025, 4, 30, 23, 59, tzinfo=utc))
    assert is_live(news, dt.datetime(2025, 5, 1, tzinfo=utc))
    assert is_live(news, dt.datetime(2025, 5, 31, 23, 59, tzinfo=utc))
    assert not is_live(news, dt.datetime(2025, 6, 1, tzinfo=utc))
    assert is_live(item("always"), dt.datetime(2030, 1, 1))
