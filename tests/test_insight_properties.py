"""The insight statements against direct counts on random accounts (property-based): for any
members, check-ins, step marks and clock, what SQL computes equals what a plain loop over the
facts seen by then says, on SQLite and on Postgres."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.insight import store
from tests.test_insight import START, account, app_event, done

FLOW = "first-visitor"
STEPS = ("open-dashboard", "register-test-visitor", "get-notified")
MINUTES = 30 * 24 * 60

minute = st.integers(0, MINUTES)
facts = st.fixed_dictionaries(
    {
        "joined": st.lists(minute, min_size=1, max_size=5, unique=True),
        "checkins": st.lists(minute, max_size=14, unique=True),
        # per member, the minute each step was done (None: not done)
        "marks": st.lists(st.tuples(*(st.none() | minute for _ in STEPS)), max_size=5),
        "times": st.integers(1, 6),
        "within": st.integers(1, 10),
        "now": st.integers(0, MINUTES + 24 * 60),  # the clock: facts after it are not seen
    }
)


def at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def first_reached(times: list[dt.datetime], n: int, within: int | None) -> dt.datetime | None:
    """The moment the n-th event (within `within` days of the first of the n) was seen."""
    times = sorted(times)
    for i in range(n - 1, len(times)):
        if within is None or times[i] - times[i - n + 1] <= dt.timedelta(days=within):
            return times[i]
    return None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(facts)
async def test_sql_figures_equal_direct_counts(client: object, drawn: dict) -> None:  # type: ignore[type-arg]
    joined = sorted(drawn["joined"])
    members = {f"m{n}": ((), at(minute)) for n, minute in enumerate(joined)}
    acct = await account(at(joined[0]), members)
    checkins = [at(m) for m in drawn["checkins"]]
    for moment in checkins:
        await app_event(acct, "m0", "visitor.checked_in", moment)
    marks = drawn["marks"][: len(members)]
    for member, minutes in zip(members, marks, strict=False):
        for step, minute_done in zip(STEPS, minutes, strict=True):
            if minute_done is not None:
                await done(acct, FLOW, step, member, at(minute_done), own=True)
    times, within, now = drawn["times"], drawn["within"], at(drawn["now"])
    checkins = [t for t in checkins if t <= now]
    joined = [m for m in joined if at(m) <= now]
    marks = [tuple(m if m is not None and at(m) <= now else None for m in row) for row in marks]
    ordered = sorted(checkins)
    for i in range(times - 1, len(ordered)):
        gap = ordered[i] - ordered[i - times + 1]
        assume(abs(gap - dt.timedelta(days=within)) > dt.timedelta(seconds=1))

    for window in (None, within):
        found = (
            await store.reach_by_event(acct.pk, "visitor.checked_in", times, window, now).run()
        ).get(acct.pk)
        expected = first_reached(checkins, times, window)
        assert (found.at if found else None) == expected
        recent = [t for t in checkins if window is None or t >= now - dt.timedelta(days=window)]
        assert (found.met if found else 0.0) == pytest.approx(min(1.0, len(recent) / times))

    team = (await store.reach_by_members(acct.pk, 3, now).run()).get(acct.pk)
    assert (team.at if team else None) == (at(joined[2]) if len(joined) >= 3 else None)
    assert (team.met if team else 0.0) == pytest.approx(min(1.0, len(joined) / 3))

    complete = [
        max(at(m) for m in minutes)
        for minutes in marks
        if all(m is not None for m in minutes)  # type: ignore[misc]
    ]
    reach = (await store.reach_by_steps(acct.pk, FLOW, [], list(STEPS), now, False).run()).get(
        acct.pk
    )
    assert (reach.at if reach else None) == (min(complete) if complete else None)
    most = max((sum(m is not None for m in minutes) for minutes in marks), default=0)
    assert (reach.met if reach else 0.0) == pytest.approx(most / len(STEPS))

    funnel = (await store.funnels(acct.pk, FLOW, [(s, False) for s in STEPS], None, now).run())[
        acct.pk
    ]
    for n, step in enumerate(funnel):
        assert step.reached == sum(minutes[n] is not None for minutes in marks)
        if n == 0:
            continue
        hours = [
            (minutes[n] - minutes[n - 1]) / 60
            for minutes in marks
            if minutes[n] is not None
            and minutes[n - 1] is not None
            and minutes[n] >= minutes[n - 1]  # type: ignore[operator]
        ]
        assert sorted(step.hours_from_previous) == pytest.approx(sorted(hours), abs=1e-3)
        if hours:
            assert statistics.median(step.hours_from_previous) == pytest.approx(
                statistics.median(hours), abs=1e-3
            )

    latest = max([*checkins], default=None)
    assert (await store.last_activity(acct.pk, now).run()).get(acct.pk) == latest

    # One organization's reads together (one statement on Postgres) answer as they do alone.
    reads = [
        store.reach_by_event(acct.pk, "visitor.checked_in", times, within, now),
        store.reach_by_members(acct.pk, 3, now),
        store.reach_by_steps(acct.pk, FLOW, [STEPS[0]], list(STEPS[1:]), now, True),
        store.funnels(acct.pk, FLOW, [(s, n == 0) for n, s in enumerate(STEPS)], None, now),
        store.member_paths(acct.pk, now),
        store.member_counts(acct.pk, now),
        store.last_activity(acct.pk, now),
    ]
    assert await store.read_all(reads, acct.pk) == [await read.run() for read in reads]
