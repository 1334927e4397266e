"""What one worker holds for its whole life: settings, schema, database, caches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.context import TortoiseContext

from api.answers import AnswerCache
from api.content.preview import DraftPreview
from api.content.store import LiveRelease
from api.members import MemberRegistry
from api.observability import Metrics
from api.persisted import DocumentRegistry
from api.progress.live import ProgressHub
from api.ratelimit import RateLimiter
from api.settings import Settings
from schema import HeedSchema


@dataclass
class Runtime:
    settings: Settings
    schema: HeedSchema
    database: TortoiseContext
    members: MemberRegistry
    preview: DraftPreview
    progress_hub: ProgressHub
    answers: AnswerCache
    limiter: RateLimiter
    development_token: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    documents: DocumentRegistry = field(default_factory=DocumentRegistry)
    release: LiveRelease | None = None
    subscriptions: Any = None  # the WebSocket endpoint, built once the schema exists
    follower: Any = None  # the ReleaseFollower keeping `release` current
    webhooks: Any = None  # the DeliveryWorker sending webhooks, unless HEED_WEBHOOK_DELIVERY=false
    nudges: Any = None  # the insight job (NudgeJob), unless HEED_NUDGES=false
    portfolios: Any = None  # the latest `insights` portfolios (PortfolioMemo)
    # The time engagement and insight use cases act at (cool-offs, repeat periods, milestone
    # statuses, windows, nudges); only a test in the same process replaces it: no request can.
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def serve(self, release: LiveRelease) -> None:
        """Swap in a newer release; requests already running keep the one they started with."""
        self.release = release
