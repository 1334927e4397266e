"""Draft preview: the content folder as it is now, drafts included, for writers and admins.

Built on request rather than published; the render cache keeps a rebuild to the files that
changed since the last preview.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from graphql import GraphQLError

from api.content.catalog import Catalog
from api.content.model import Item
from api.content.pipeline import build
from api.content.store import LiveRelease

PREVIEW_HEADER = "x-heed-preview"


class PreviewInvalid(GraphQLError):
    """The folder has problems: the writer gets them all, with positions."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"the content has {len(problems)} problem(s): {problems[0]}",
            extensions={"code": "CONTENT_INVALID", "problems": problems},
        )


class DraftPreview:
    def __init__(self, root: Path, *, default_locale: str, fallback: bool) -> None:
        self._root = root
        self._default_locale = default_locale
        self._fallback = fallback
        self._cache: dict[str, Item] = {}
        self._lock = asyncio.Lock()  # build() refreshes the cache in place

    async def release(self) -> LiveRelease:
        async with self._lock:
            result = await asyncio.to_thread(
                build,
                self._root,
                include_drafts=True,
                cache=self._cache,
                default_locale=self._default_locale,
            )
        if result.problems:
            raise PreviewInvalid([str(problem) for problem in result.problems])
        catalog = Catalog(
            result.items.values(), default_locale=self._default_locale, fallback=self._fallback
        )
        return LiveRelease(0, result.content_hash, dt.datetime.now(dt.UTC), catalog)
