"""The insight rules as pure functions: a milestone's status, the health formula, the period a
nudge belongs to, and the statistics over organizations. No I/O: the store supplies the facts.

Milestone status (documented in the README):
- `REACHED` when its criterion is met (at the moment it was first met);
- else `OVERDUE` once its target has passed;
- else `AT_RISK` when less than a fifth of the time from the organization's start to the
  target is left and less than half of the criterion is met;
- else `ON_TRACK`.

Health score (0 to 100) = 100 x the weighted mean of its components, each from 0 to 1:
- recency (25%): 1 on the day of the account's last activity, falling linearly to 0 after
  `RECENCY_DAYS` days without any;
- adoption (25%): the share of members who finished every flow of their role's path;
- milestones (30%): the mean over milestones of 1 (reached on time or on track), 0.5 (reached
  late or at risk) or 0 (overdue);
- help (10%): 1 with no open help request, falling by a fifth for each one, 0 from five;
- NPS (10%, only when the account answered an NPS question): (NPS + 100) / 200.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

AT_RISK_TIME_LEFT = 0.2  # less than a fifth of the time left ...
AT_RISK_MET = 0.5  # ... and less than half of the criterion met
RECENCY_DAYS = 30
HELP_ZERO_AT = 5
DAY = dt.timedelta(days=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class MilestoneStatus(StrEnum):
    """Where an organization stands on one milestone."""

    REACHED = "REACHED"
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    OVERDUE = "OVERDUE"


def milestone_status(
    now: dt.datetime,
    started: dt.datetime,
    target: dt.datetime,
    reached: dt.datetime | None,
    met: float,
) -> MilestoneStatus:
    """The status rule above; `met` is the share of the criterion met, 0 to 1."""
    if reached is not None:
        return MilestoneStatus.REACHED
    if now > target:
        return MilestoneStatus.OVERDUE
    span = (target - started).total_seconds()
    left = (target - now).total_seconds()
    if span > 0 and left / span < AT_RISK_TIME_LEFT and met < AT_RISK_MET:
        return MilestoneStatus.AT_RISK
    return MilestoneStatus.ON_TRACK


def days_between(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start) / DAY, 3)


@dataclass(frozen=True)
class Component:
    """One part of the health score: its value (0 to 1), its weight, and why."""

    name: str
    value: float
    weight: float
    detail: str


@dataclass(frozen=True)
class HealthFacts:
    """What the health score is computed from, for one organization."""

    last_activity: dt.datetime | None
    members: int
    members_done: int
    milestones: Sequence[tuple[MilestoneStatus, bool]]  # (status, reached on time)
    open_help: int
    nps: float | None
    nps_answers: int


def milestone_score(status: MilestoneStatus, on_time: bool) -> float:
    if status is MilestoneStatus.REACHED:
        return 1.0 if on_time else 0.5
    return {MilestoneStatus.ON_TRACK: 1.0, MilestoneStatus.AT_RISK: 0.5}.get(status, 0.0)


WEIGHTS = {"recency": 0.25, "adoption": 0.25, "milestones": 0.3, "help": 0.1, "nps": 0.1}


def health_values(facts: HealthFacts, now: dt.datetime) -> dict[str, float | None]:
    """Each component's value, 0 to 1 (NPS None without answers): the formula above."""
    idle = None if facts.last_activity is None else max(0.0, (now - facts.last_activity) / DAY)
    scores = [milestone_score(status, on_time) for status, on_time in facts.milestones]
    return {
        "recency": 0.0 if idle is None else round(max(0.0, 1 - idle / RECENCY_DAYS), 4),
        "adoption": round(facts.members_done / facts.members, 4) if facts.members else 0.0,
        "milestones": round(sum(scores) / len(scores), 4) if scores else 1.0,
        "help": round(1 - min(facts.open_help, HELP_ZERO_AT) / HELP_ZERO_AT, 4),
        "nps": None if facts.nps is None else round((facts.nps + 100) / 200, 4),
    }


def health_score(facts: HealthFacts, now: dt.datetime) -> int:
    """100 x the weighted mean of the components present (NPS only with answers)."""
    values = health_values(facts, now)
    present = {name: v for name, v in values.items() if v is not None}
    weight = sum(WEIGHTS[name] for name in present)
    return round(100 * sum(v * WEIGHTS[name] for name, v in present.items()) / weight)


def health_components(facts: HealthFacts, now: dt.datetime) -> list[Component]:
    """The components with the facts a person reads behind each value."""
    values = health_values(facts, now)
    if facts.last_activity is None:
        recency = "no activity yet"
    else:
        recency = f"last activity {max(0.0, (now - facts.last_activity) / DAY):.1f} days ago"
    counts = Counter(status for status, _ in facts.milestones)
    details = {
        "recency": recency,
        "adoption": f"{facts.members_done} of {facts.members} members finished their path",
        "milestones": ", ".join(
            f"{counts[s]} {s.lower().replace('_', ' ')}" for s in MilestoneStatus if counts[s]
        )
        or "no milestones",
        "help": f"{facts.open_help} open help requests",
        "nps": "no NPS answers yet"
        if facts.nps is None
        else f"NPS {facts.nps:.0f} from {facts.nps_answers} answers",
    }
    return [
        Component(name, value or 0.0, 0.0 if value is None else WEIGHTS[name], details[name])
        for name, value in values.items()
    ]


def period_of(now: dt.datetime, days: int) -> str:
    """The nudge period holding `now`: periods of `days` days counted from the Unix epoch,
    named by their first day (`2026-11-26`)."""
    index = math.floor((now - EPOCH) / (DAY * days))
    return (EPOCH + index * days * DAY).date().isoformat()


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def percentile_90(values: Sequence[float]) -> float | None:
    """The 90th percentile, interpolated between the closest ranks."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=10, method="inclusive")[8], 3)


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
