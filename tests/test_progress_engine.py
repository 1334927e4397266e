"""The step-status engine: worked examples (the ProjectMap reception scenario) and properties."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.progress import (
    Action,
    ActionError,
    ErrorCode,
    FlowDef,
    FlowRecord,
    FlowState,
    FlowView,
    Mark,
    Member,
    Scope,
    StepDef,
    StepStatus,
    check_action,
    current_marks,
    evaluate_flow,
    holds_role,
    mark_key,
    steps_completed_by_event,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ORG = Scope.ORGANIZATION


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def done(step_id: str, by: str, member_id: str | None = None, minutes: int = 0) -> Mark:
    return Mark(step_id, member_id, "done", by, at(minutes), revision=1)


def skipped(step_id: str, by: str, member_id: str | None = None, minutes: int = 0) -> Mark:
    return Mark(step_id, member_id, "skipped", by, at(minutes), revision=1)


# --- the ProjectMap scenario ----------------------------------------------------------------

RECEPTION = FlowDef(
    id="reception-setup",
    revision=1,
    steps=(
        StepDef("create-account", scope=ORG),
        StepDef("add-card", scope=ORG, roles=frozenset({"billing", "admin"})),
        StepDef(
            "connect-directory",
            scope=ORG,
            roles=frozenset({"it_admin", "admin"}),
            completes_on="directory.connected",
        ),
        StepDef("add-nda", scope=ORG, roles=frozenset({"legal", "admin"}), optional=True),
        StepDef(
            "install-ipad",
            scope=ORG,
            roles=frozenset({"office_manager", "admin"}),
            requires=("create-account",),
        ),
    ),
)
BRENDAN = Member("brendan", frozenset({"office_manager"}))
DANA = Member("dana", frozenset({"billing"}))
IVAN = Member("ivan", frozenset({"it_admin"}))
ANN = Member("ann", frozenset({"admin"}))
TEAM = (BRENDAN, DANA, IVAN, ANN)


def view(
    flow: FlowDef = RECEPTION,
    marks: tuple[Mark, ...] = (),
    viewer: Member = BRENDAN,
    record: FlowRecord | None = None,
) -> FlowView:
    return evaluate_flow(flow, marks, viewer, TEAM, record)


def statuses(flow_view: FlowView) -> dict[str, StepStatus]:
    return {s.step_id: s.status for s in flow_view.steps}


def step_view(flow_view: FlowView, step_id: str):
    return next(s for s in flow_view.steps if s.step_id == step_id)


def test_brendan_first_visit() -> None:
    v = view()
    assert statuses(v) == {
        "create-account": StepStatus.AVAILABLE,
        "add-card": StepStatus.NEEDS_ROLE,
        "connect-directory": StepStatus.NEEDS_ROLE,
        "add-nda": StepStatus.NEEDS_ROLE,
        "install-ipad": StepStatus.LOCKED,
    }
    assert step_view(v, "add-card").candidates == ("dana", "ann")
    assert step_view(v, "connect-directory").candidates == ("ivan", "ann")
    assert step_view(v, "add-nda").candidates == ("ann",)
    assert step_view(v, "install-ipad").missing_requires == ("create-account",)
    assert step_view(v, "install-ipad").candidates == ()
    assert (v.done, v.total, v.percent) == (0, 4, 0.0)
    assert v.state is FlowState.NOT_STARTED
    assert v.next_step_id == "create-account"
    assert not v.completed_now


def test_statuses_serialize_as_their_names() -> None:
    assert [s.value for s in StepStatus] == ["AVAILABLE", "LOCKED", "NEEDS_ROLE", "DONE", "SKIPPED"]
    assert StepStatus.NEEDS_ROLE == "NEEDS_ROLE"
    assert Scope.ORGANIZATION.value == "organization"


def test_completing_a_require_unlocks_the_dependent_step() -> None:
    v = view(marks=(done("create-account", "brendan"),))
    assert step_view(v, "create-account").status is StepStatus.DONE
    assert step_view(v, "create-account").done_by == "brendan"
    assert step_view(v, "create-account").done_at == T0
    assert step_view(v, "install-ipad").status is StepStatus.AVAILABLE
    assert step_view(v, "install-ipad").missing_requires == ()
    assert (v.done, v.total, v.percent) == (1, 4, 25.0)
    assert v.state is FlowState.IN_PROGRESS
    assert v.next_step_id == "install-ipad"


def test_org_step_done_by_one_member_is_done_for_everyone() -> None:
    marks = (done("create-account", "ivan"),)
    for viewer in TEAM:
        s = step_view(view(marks=marks, viewer=viewer), "create-account")
        assert (s.status, s.done_by) == (StepStatus.DONE, "ivan")


def test_role_holder_sees_available_where_others_see_needs_role() -> None:
    assert step_view(view(viewer=DANA), "add-card").status is StepStatus.AVAILABLE
    assert step_view(view(viewer=ANN), "add-card").status is StepStatus.AVAILABLE
    assert step_view(view(viewer=DANA), "add-card").candidates == ()


def test_skip_without_role_is_personal_then_dana_completes_it() -> None:
    key = mark_key(RECEPTION.steps[1], BRENDAN, Action.SKIP)
    assert key == "brendan"
    marks = (skipped("add-card", "brendan", member_id=key),)
    assert step_view(view(marks=marks), "add-card").status is StepStatus.SKIPPED
    assert step_view(view(marks=marks, viewer=DANA), "add-card").status is StepStatus.AVAILABLE
    assert check_action(RECEPTION, marks, DANA, "add-card", Action.COMPLETE) is None

    marks += (done("add-card", "dana", member_id=None, minutes=5),)
    for viewer in (BRENDAN, DANA, IVAN):
        s = step_view(view(marks=marks, viewer=viewer), "add-card")
        assert (s.status, s.done_by, s.done_at) == (StepStatus.DONE, "dana", at(5))


def test_org_level_done_beats_a_later_personal_skip() -> None:
    marks = (done("add-card", "dana"), skipped("add-card", "brendan", "brendan", minutes=9))
    assert step_view(view(marks=marks), "add-card").status is StepStatus.DONE


def test_skip_by_role_holder_skips_for_the_organization() -> None:
    step = RECEPTION.steps[1]
    assert mark_key(step, DANA, Action.SKIP) is None
    marks = (skipped("add-card", "dana"),)
    for viewer in TEAM:
        assert step_view(view(marks=marks, viewer=viewer), "add-card").status is StepStatus.SKIPPED


def test_personal_skip_is_ignored_once_the_viewer_holds_the_role() -> None:
    marks = (skipped("add-card", "brendan", member_id="brendan"),)
    promoted = Member("brendan", frozenset({"office_manager", "billing"}))
    assert step_view(view(marks=marks, viewer=promoted), "add-card").status is StepStatus.AVAILABLE


def test_personal_done_mark_on_org_step_is_ignored() -> None:
    marks = (done("add-card", "brendan", member_id="brendan"),)
    assert step_view(view(marks=marks), "add-card").status is StepStatus.NEEDS_ROLE


def test_skipped_step_can_be_done_later_and_shows_no_done_by() -> None:
    marks = (skipped("create-account", "brendan"),)
    v = view(marks=marks)
    s = step_view(v, "create-account")
    assert (s.status, s.done_by, s.done_at) == (StepStatus.SKIPPED, None, None)
    assert step_view(v, "install-ipad").status is StepStatus.LOCKED  # skipped is not done
    assert v.state is FlowState.IN_PROGRESS
    assert v.next_step_id == "create-account"  # nothing AVAILABLE: back to the skipped one
    assert check_action(RECEPTION, marks, BRENDAN, "create-account", Action.COMPLETE) is None


def test_skipped_beats_locked() -> None:
    marks = (skipped("install-ipad", "brendan"),)
    s = step_view(view(marks=marks), "install-ipad")
    assert s.status is StepStatus.SKIPPED
    assert s.missing_requires == ("create-account",)


def test_locked_beats_needs_role() -> None:
    v = view(viewer=DANA)
    assert step_view(v, "install-ipad").status is StepStatus.LOCKED
    assert step_view(v, "install-ipad").candidates == ()


def test_next_step_skips_skipped_steps_the_viewer_cannot_do() -> None:
    marks = (
        done("create-account", "brendan"),
        done("install-ipad", "brendan"),
        skipped("add-card", "brendan", "brendan"),
    )
    v = view(marks=marks)
    assert v.next_step_id is None  # add-card skipped but brendan cannot do it; rest NEEDS_ROLE
    v = view(marks=(*marks[:2], skipped("add-card", "dana")), viewer=DANA)
    assert v.next_step_id == "add-card"


def test_flow_completes_when_every_non_optional_step_is_done() -> None:
    marks = (
        done("create-account", "brendan"),
        done("add-card", "dana"),
        done("connect-directory", "ivan"),
        done("install-ipad", "brendan"),
    )
    v = view(marks=marks)
    assert (v.done, v.total, v.percent) == (4, 4, 100.0)
    assert v.state is FlowState.COMPLETED
    assert v.completed_now
    assert step_view(v, "add-nda").status is StepStatus.NEEDS_ROLE  # optional, still open
    assert v.next_step_id is None
    recorded = view(marks=marks, record=FlowRecord(completed_at=at(10)))
    assert recorded.state is FlowState.COMPLETED
    assert not recorded.completed_now


def test_completed_flow_stays_completed_when_a_step_is_added() -> None:
    marks = (
        done("create-account", "brendan"),
        done("add-card", "dana"),
        done("connect-directory", "ivan"),
        done("install-ipad", "brendan"),
    )
    grown = replace(RECEPTION, revision=2, steps=(*RECEPTION.steps, StepDef("print-badges", ORG)))
    v = view(grown, marks, record=FlowRecord(completed_at=at(10)))
    assert v.state is FlowState.COMPLETED
    assert (v.done, v.total, v.percent) == (4, 5, 80.0)
    assert step_view(v, "print-badges").status is StepStatus.AVAILABLE
    assert v.next_step_id == "print-badges"
    assert not v.completed_now
    assert view(grown, marks).state is FlowState.IN_PROGRESS  # without the record


def test_removed_step_drops_out() -> None:
    marks = (done("old-welcome", "brendan"), skipped("old-tour", "brendan", "brendan"))
    assert view(marks=marks) == view()
    assert view(marks=marks).state is FlowState.NOT_STARTED


def test_require_naming_a_removed_step_no_longer_binds() -> None:
    flow = FlowDef("f", 2, (StepDef("b", requires=("gone",)),))
    assert step_view(view(flow), "b").status is StepStatus.AVAILABLE


def test_dismissed_flow() -> None:
    assert view(record=FlowRecord(dismissed_at=at(1))).state is FlowState.DISMISSED
    both = FlowRecord(completed_at=at(2), dismissed_at=at(1))
    assert view(record=both).state is FlowState.COMPLETED
    assert view(record=FlowRecord()).state is FlowState.NOT_STARTED


def test_empty_and_all_optional_flows() -> None:
    empty = view(FlowDef("empty", 1, ()))
    assert (empty.total, empty.percent, empty.state) == (0, 0.0, FlowState.NOT_STARTED)
    assert not empty.completed_now
    completed_empty = view(FlowDef("empty", 1, ()), record=FlowRecord(completed_at=T0))
    assert completed_empty.percent == 100.0
    only_optional = view(FlowDef("tips", 1, (StepDef("t", optional=True),)))
    assert only_optional.state is FlowState.COMPLETED
    assert only_optional.percent == 100.0
    assert only_optional.completed_now


def test_percent_is_rounded_to_one_decimal() -> None:
    flow = FlowDef("f", 1, (StepDef("a"), StepDef("b"), StepDef("c")))
    assert view(flow, (done("a", "x", "brendan"),)).percent == 33.3
    assert view(flow, (done("a", "x", "brendan"), done("b", "x", "brendan"))).percent == 66.7


# --- user scope ------------------------------------------------------------------------------

TOUR = FlowDef(
    "product-tour",
    3,
    (StepDef("watch-intro"), StepDef("first-visitor", requires=("watch-intro",))),
)


def test_user_step_is_done_per_member() -> None:
    marks = (done("watch-intro", "dana", "dana"),)
    assert step_view(view(TOUR, marks, DANA), "watch-intro").status is StepStatus.DONE
    assert step_view(view(TOUR, marks, BRENDAN), "watch-intro").status is StepStatus.AVAILABLE
    assert view(TOUR, marks, BRENDAN).state is FlowState.NOT_STARTED


def test_org_level_mark_on_a_user_step_is_ignored() -> None:
    marks = (done("watch-intro", "dana", None),)
    assert step_view(view(TOUR, marks, DANA), "watch-intro").status is StepStatus.AVAILABLE


def test_latest_mark_wins_and_ties_prefer_done() -> None:
    later_skip = (done("watch-intro", "dana", "dana", 1), skipped("watch-intro", "dana", "dana", 2))
    assert step_view(view(TOUR, later_skip, DANA), "watch-intro").status is StepStatus.SKIPPED
    later_done = tuple(
        reversed((skipped("watch-intro", "d", "dana", 1), done("watch-intro", "d", "dana", 2)))
    )
    assert step_view(view(TOUR, later_done, DANA), "watch-intro").status is StepStatus.DONE
    tie = (skipped("watch-intro", "dana", "dana", 3), done("watch-intro", "dana", "dana", 3))
    assert step_view(view(TOUR, tie, DANA), "watch-intro").status is StepStatus.DONE
    assert step_view(view(TOUR, tie[::-1], DANA), "watch-intro").status is StepStatus.DONE


def test_user_step_with_roles_needs_role() -> None:
    flow = FlowDef("f", 1, (StepDef("learn-billing", roles=frozenset({"billing"})),))
    s = step_view(view(flow), "learn-billing")
    assert (s.status, s.candidates) == (StepStatus.NEEDS_ROLE, ("dana",))


def test_candidates_keep_member_order_without_duplicates_or_viewer() -> None:
    stale_viewer = Member("brendan", frozenset({"billing"}))  # roles from an older row
    members = (ANN, DANA, ANN, stale_viewer)
    v = evaluate_flow(RECEPTION, (), BRENDAN, members, None)
    assert step_view(v, "add-card").candidates == ("ann", "dana")
    assert step_view(evaluate_flow(RECEPTION, (), BRENDAN), "add-card").candidates == ()


def test_current_marks() -> None:
    marks = (
        done("create-account", "ivan"),
        skipped("add-card", "brendan", "brendan"),
        done("gone", "brendan"),
        skipped("connect-directory", "dana", "dana"),
    )
    assert set(current_marks(RECEPTION, marks, BRENDAN)) == {"create-account", "add-card"}
    assert set(current_marks(RECEPTION, marks, DANA)) == {"create-account", "connect-directory"}


# --- check_action ----------------------------------------------------------------------------


def check(
    step_id: str, action: Action, marks: tuple[Mark, ...] = (), viewer: Member = BRENDAN
) -> ActionError | None:
    return check_action(RECEPTION, marks, viewer, step_id, action, TEAM)


@pytest.mark.parametrize("action", list(Action))
def test_unknown_step_is_not_found(action: Action) -> None:
    error = check("no-such-step", action)
    assert error is not None
    assert error.code is ErrorCode.NOT_FOUND
    assert "no-such-step" in error.message


def test_complete_available_step() -> None:
    assert check("create-account", Action.COMPLETE) is None


def test_complete_done_step_is_already_done() -> None:
    error = check("create-account", Action.COMPLETE, (done("create-account", "ivan"),))
    assert error is not None
    assert error.code is ErrorCode.ALREADY_DONE


def test_complete_locked_step_lists_missing_requires() -> None:
    error = check("install-ipad", Action.COMPLETE)
    assert error is not None
    assert error.code is ErrorCode.STEP_LOCKED
    assert error.missing == ("create-account",)
    assert "create-account" in error.message


def test_locked_is_reported_before_role_required() -> None:
    error = check("install-ipad", Action.COMPLETE, viewer=DANA)
    assert error is not None
    assert error.code is ErrorCode.STEP_LOCKED


def test_complete_without_role_lists_roles_and_candidates() -> None:
    error = check("add-card", Action.COMPLETE)
    assert error is not None
    assert error.code is ErrorCode.ROLE_REQUIRED
    assert error.roles == ("admin", "billing")
    assert error.candidates == ("dana", "ann")
    assert "billing" in error.message
    assert check("add-card", Action.COMPLETE, viewer=DANA) is None


def test_complete_personally_skipped_step_still_needs_the_role() -> None:
    marks = (skipped("add-card", "brendan", "brendan"),)
    error = check("add-card", Action.COMPLETE, marks)
    assert error is not None
    assert error.code is ErrorCode.ROLE_REQUIRED


@pytest.mark.parametrize("step_id", ["add-card", "install-ipad", "create-account"])
def test_skip_is_the_escape_hatch(step_id: str) -> None:
    assert check(step_id, Action.SKIP) is None  # NEEDS_ROLE, LOCKED, AVAILABLE


def test_skip_done_step_is_already_done() -> None:
    error = check("create-account", Action.SKIP, (done("create-account", "ivan"),))
    assert error is not None
    assert error.code is ErrorCode.ALREADY_DONE


def test_skip_skipped_step_is_already_skipped() -> None:
    error = check("create-account", Action.SKIP, (skipped("create-account", "ivan"),))
    assert error is not None
    assert error.code is ErrorCode.ALREADY_SKIPPED


def test_skip_not_skippable_step() -> None:
    flow = FlowDef("f", 1, (StepDef("accept-terms", skippable=False),))
    error = check_action(flow, (), BRENDAN, "accept-terms", Action.SKIP)
    assert error is not None
    assert error.code is ErrorCode.NOT_SKIPPABLE


def test_reopen_open_step_is_not_done() -> None:
    error = check("create-account", Action.REOPEN)
    assert error is not None
    assert error.code is ErrorCode.NOT_DONE


def test_reopen_done_or_skipped_step() -> None:
    assert check("create-account", Action.REOPEN, (done("create-account", "ivan"),)) is None
    assert check("create-account", Action.REOPEN, (skipped("create-account", "ivan"),)) is None
    assert check("add-card", Action.REOPEN, (done("add-card", "dana"),), viewer=ANN) is None


def test_reopen_org_mark_without_role_is_refused() -> None:
    for mark in (done("add-card", "dana"), skipped("add-card", "dana")):
        error = check("add-card", Action.REOPEN, (mark,))
        assert error is not None
        assert error.code is ErrorCode.ROLE_REQUIRED
        assert error.candidates == ("dana", "ann")


def test_reopen_own_skip_without_role() -> None:
    marks = (skipped("add-card", "brendan", "brendan"),)
    assert check("add-card", Action.REOPEN, marks) is None
    assert mark_key(RECEPTION.steps[1], BRENDAN, Action.REOPEN) == "brendan"


def test_mark_keys() -> None:
    card = RECEPTION.steps[1]
    assert mark_key(card, DANA, Action.COMPLETE) is None
    assert mark_key(card, BRENDAN, Action.COMPLETE) is None  # refused by check_action anyway
    assert mark_key(card, DANA, Action.SKIP) is None
    assert mark_key(card, DANA, Action.REOPEN) is None
    assert mark_key(card, BRENDAN, Action.SKIP) == "brendan"
    open_org_step = RECEPTION.steps[0]
    assert mark_key(open_org_step, BRENDAN, Action.SKIP) is None
    for action in Action:
        assert mark_key(TOUR.steps[0], DANA, action) == "dana"


def test_holds_role() -> None:
    assert holds_role(RECEPTION.steps[0], Member("x"))
    assert holds_role(RECEPTION.steps[1], ANN)
    assert not holds_role(RECEPTION.steps[1], BRENDAN)


def test_steps_completed_by_event() -> None:
    assert steps_completed_by_event([TOUR, RECEPTION], "directory.connected") == [
        ("reception-setup", "connect-directory")
    ]
    assert steps_completed_by_event([RECEPTION], "card.added") == []
    assert steps_completed_by_event([], "directory.connected") == []


# --- properties over random flows, marks and viewers -----------------------------------------

ROLES = ("a", "b", "c")
MEMBER_IDS = ("m0", "m1", "m2", "m3")
EVENTS = ("e1", "e2")
ACTIVE = (StepStatus.AVAILABLE, StepStatus.LOCKED, StepStatus.NEEDS_ROLE)


@st.composite
def flows(draw: st.DrawFn, min_steps: int = 0) -> FlowDef:
    n = draw(st.integers(min_steps, 7))
    ids = [f"s{i}" for i in range(n)]
    steps = []
    for i, step_id in enumerate(ids):
        requires = draw(st.lists(st.sampled_from([*ids[:i], "gone"]), max_size=3)) if i else []
        steps.append(
            StepDef(
                id=step_id,
                scope=draw(st.sampled_from(list(Scope))),
                roles=draw(st.frozensets(st.sampled_from(ROLES), max_size=2)),
                requires=tuple(requires),
                optional=draw(st.booleans()),
                skippable=draw(st.booleans()),
                completes_on=draw(st.sampled_from((None, *EVENTS))),
            )
        )
    return FlowDef("flow", draw(st.integers(1, 5)), tuple(steps))


def members_st() -> st.SearchStrategy[tuple[Member, ...]]:
    roles = st.frozensets(st.sampled_from(ROLES), max_size=2)
    return st.tuples(*(st.builds(Member, st.just(mid), roles) for mid in MEMBER_IDS))


def marks_for(flow: FlowDef, viewer_id: str = "m0") -> st.SearchStrategy[list[Mark]]:
    step_ids = [s.id for s in flow.steps] + ["gone"]
    return st.lists(
        st.builds(
            Mark,
            step_id=st.sampled_from(step_ids),
            # Weighted towards the keys that apply to the viewer.
            member_id=st.sampled_from((None, None, viewer_id, viewer_id, *MEMBER_IDS)),
            state=st.sampled_from(("done", "skipped")),
            by=st.sampled_from(MEMBER_IDS),
            at=st.integers(0, 5).map(at),
            revision=st.integers(1, 3),
        ),
        max_size=12,
    )


records = st.none() | st.builds(
    FlowRecord, st.none() | st.just(at(30)), st.none() | st.just(at(31))
)


@st.composite
def scenarios(draw: st.DrawFn, min_steps: int = 0):
    flow = draw(flows(min_steps))
    members = draw(members_st())
    viewer = draw(st.sampled_from(members))
    return flow, draw(marks_for(flow, viewer.id)), viewer, members, draw(records)


def views_by_id(flow: FlowDef, flow_view: FlowView):
    return {s.id: (s, v) for s, v in zip(flow.steps, flow_view.steps, strict=True)}


def doable_skipped(step: StepDef, sv, viewer: Member) -> bool:
    return sv.status is StepStatus.SKIPPED and not sv.missing_requires and holds_role(step, viewer)


@given(scenarios())
def test_prop_one_view_per_step_in_order(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    v = evaluate_flow(flow, marks, viewer, members, record)
    assert [s.step_id for s in v.steps] == [s.id for s in flow.steps]
    assert all(isinstance(s.status, StepStatus) for s in v.steps)
    assert v.flow_id == flow.id


@given(scenarios())
def test_prop_progress_bounds(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    v = evaluate_flow(flow, marks, viewer, members, record)
    assert v.total == sum(not s.optional for s in flow.steps)
    assert 0 <= v.done <= v.total
    assert 0.0 <= v.percent <= 100.0
    if v.total:
        assert v.percent == round(100 * v.done / v.total, 1)


@given(scenarios())
def test_prop_statuses_follow_the_rules(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    v = evaluate_flow(flow, marks, viewer, members, record)
    by_id = views_by_id(flow, v)
    step_ids = set(by_id)
    for step, sv in by_id.values():
        unmet = [r for r in step.requires if r in step_ids and by_id[r][1].status != "DONE"]
        assert set(sv.missing_requires) == set(unmet)
        if sv.status is StepStatus.LOCKED:
            assert sv.missing_requires
        if sv.status in ACTIVE:
            assert (sv.status is StepStatus.LOCKED) == bool(unmet)
        if sv.status is StepStatus.NEEDS_ROLE:
            assert step.roles
            assert not holds_role(step, viewer)
            assert set(sv.candidates) == {
                m.id for m in members if m.id != viewer.id and step.roles & m.roles
            }
        else:
            assert sv.candidates == ()
        if sv.status is StepStatus.AVAILABLE:
            assert holds_role(step, viewer)
        assert (sv.done_by is not None) == (sv.status is StepStatus.DONE)
        assert (sv.done_at is not None) == (sv.status is StepStatus.DONE)


@given(scenarios())
def test_prop_next_step(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    v = evaluate_flow(flow, marks, viewer, members, record)
    by_id = views_by_id(flow, v)
    available = [s.step_id for s in v.steps if s.status is StepStatus.AVAILABLE]
    later = [s.id for s, sv in by_id.values() if doable_skipped(s, sv, viewer)]
    assert v.next_step_id == (available or later or [None])[0]


@given(scenarios())
def test_prop_completion_without_record(scenario) -> None:
    flow, marks, viewer, members, _ = scenario
    v = evaluate_flow(flow, marks, viewer, members, None)
    all_done = bool(flow.steps) and all(
        sv.status is StepStatus.DONE for s, sv in views_by_id(flow, v).values() if not s.optional
    )
    assert (v.state is FlowState.COMPLETED) == all_done
    assert v.completed_now == all_done
    if not all_done:
        has_mark = bool(current_marks(flow, marks, viewer))
        assert v.state is (FlowState.IN_PROGRESS if has_mark else FlowState.NOT_STARTED)


@given(scenarios())
def test_prop_record_states(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    v = evaluate_flow(flow, marks, viewer, members, record)
    bare = evaluate_flow(flow, marks, viewer, members, None)
    assert v.steps == bare.steps
    assert (v.done, v.total, v.next_step_id) == (bare.done, bare.total, bare.next_step_id)
    if record is not None and record.completed_at is not None:
        assert v.state is FlowState.COMPLETED
        assert not v.completed_now
    elif bare.state is FlowState.COMPLETED:
        assert v.state is FlowState.COMPLETED
    elif record is not None and record.dismissed_at is not None:
        assert v.state is FlowState.DISMISSED


@given(scenarios(), st.sampled_from(list(Action)))
def test_prop_check_action_agrees_with_status(scenario, action: Action) -> None:
    flow, marks, viewer, members, _ = scenario
    v = evaluate_flow(flow, marks, viewer, members, None)
    for step, sv in views_by_id(flow, v).values():
        error = check_action(flow, marks, viewer, step.id, action, members)
        code = error.code if error else None
        if action is Action.COMPLETE:
            ok = sv.status is StepStatus.AVAILABLE or doable_skipped(step, sv, viewer)
            assert (error is None) == ok
            assert (code is ErrorCode.ALREADY_DONE) == (sv.status is StepStatus.DONE)
            if code is ErrorCode.STEP_LOCKED:
                assert error.missing == sv.missing_requires
            if code is ErrorCode.ROLE_REQUIRED:
                assert error.roles == tuple(sorted(step.roles))
        elif action is Action.SKIP:
            ok = sv.status in ACTIVE and step.skippable
            assert (error is None) == ok
            assert (code is ErrorCode.ALREADY_DONE) == (sv.status is StepStatus.DONE)
        else:
            assert (code is ErrorCode.NOT_DONE) == (sv.status in ACTIVE)
            if code is ErrorCode.ROLE_REQUIRED:
                assert step.scope is Scope.ORGANIZATION
                assert not holds_role(step, viewer)


def apply(
    flow: FlowDef,
    store: dict[tuple[str | None, str], Mark],
    viewer: Member,
    step_id: str,
    a: Action,
) -> dict[tuple[str | None, str], Mark]:
    """What the resolvers do with the database: one mark per (member key, step), replaced."""
    step = next(s for s in flow.steps if s.id == step_id)
    key = (mark_key(step, viewer, a), step_id)
    store = dict(store)
    if a is Action.REOPEN:
        store.pop(key, None)
    else:
        state = "done" if a is Action.COMPLETE else "skipped"
        store[key] = Mark(step_id, key[0], state, viewer.id, at(60), flow.revision)
    return store


@given(scenarios())
def test_prop_allowed_actions_take_effect_through_mark_key(scenario) -> None:
    flow, marks, viewer, members, _ = scenario
    store = {(m.member_id, m.step_id): m for m in marks}
    expected = {
        Action.COMPLETE: {StepStatus.DONE},
        Action.SKIP: {StepStatus.SKIPPED},
        Action.REOPEN: set(ACTIVE),
    }
    for index, step in enumerate(flow.steps):
        for action in Action:
            if check_action(flow, store.values(), viewer, step.id, action, members) is not None:
                continue
            after = evaluate_flow(
                flow, apply(flow, store, viewer, step.id, action).values(), viewer
            )
            assert after.steps[index].status in expected[action]


@given(scenarios(), marks_for(FlowDef("other", 1, (StepDef("gone"), StepDef("old")))))
def test_prop_removed_step_marks_change_nothing(scenario, stale: list[Mark]) -> None:
    flow, marks, viewer, members, record = scenario
    stale = [m for m in stale if m.step_id not in {s.id for s in flow.steps}]
    before = evaluate_flow(flow, marks, viewer, members, record)
    assert evaluate_flow(flow, marks + stale, viewer, members, record) == before
    for step in flow.steps:
        for action in Action:
            assert check_action(flow, marks + stale, viewer, step.id, action, members) == (
                check_action(flow, marks, viewer, step.id, action, members)
            )


@given(scenarios(), st.randoms(use_true_random=False))
def test_prop_mark_order_does_not_matter(scenario, rnd: random.Random) -> None:
    flow, marks, viewer, members, record = scenario
    shuffled = list(marks)
    rnd.shuffle(shuffled)
    assert evaluate_flow(flow, shuffled, viewer, members, record) == evaluate_flow(
        flow, marks, viewer, members, record
    )


@given(scenarios())
def test_prop_only_the_viewers_and_the_orgs_marks_count(scenario) -> None:
    flow, marks, viewer, members, record = scenario
    own = [m for m in marks if m.member_id in (None, viewer.id)]
    assert evaluate_flow(flow, own, viewer, members, record) == evaluate_flow(
        flow, marks, viewer, members, record
    )


@given(scenarios(min_steps=1), st.data())
def test_prop_new_step_keeps_a_recorded_completion(scenario, data) -> None:
    flow, marks, viewer, members, _ = scenario
    new_step = StepDef(
        "s-new",
        scope=data.draw(st.sampled_from(list(Scope))),
        requires=tuple(data.draw(st.lists(st.sampled_from([s.id for s in flow.steps])))),
        optional=data.draw(st.booleans()),
    )
    finish = [
        Mark(s.id, mark_key(s, viewer, Action.COMPLETE), "done", viewer.id, at(20), 1)
        for s in flow.steps
        if not s.optional
    ]
    marks = marks + finish
    assert evaluate_flow(flow, marks, viewer, members, None).state is FlowState.COMPLETED
    grown = replace(flow, revision=flow.revision + 1, steps=(*flow.steps, new_step))
    v = evaluate_flow(grown, marks, viewer, members, FlowRecord(completed_at=at(30)))
    assert v.state is FlowState.COMPLETED
    assert not v.completed_now
    assert v.steps[-1].status is not StepStatus.DONE


@given(scenarios())
def test_prop_org_done_is_the_same_for_every_viewer(scenario) -> None:
    flow, marks, _, members, record = scenario
    seen = []
    for member in members:
        v = evaluate_flow(flow, marks, member, members, record)
        seen.append(
            [
                (sv.step_id, sv.status is StepStatus.DONE, sv.done_by, sv.done_at)
                for step, sv in zip(flow.steps, v.steps, strict=True)
                if step.scope is Scope.ORGANIZATION
            ]
        )
    assert all(s == seen[0] for s in seen)


@given(scenarios())
def test_prop_org_statuses_differ_between_viewers_only_by_role(scenario) -> None:
    """Without personal skips, an org step looks the same to everyone but AVAILABLE/NEEDS_ROLE."""
    flow, marks, _, members, record = scenario
    views = [evaluate_flow(flow, marks, m, members, record) for m in members]
    scopes = {s.id: s.scope for s in flow.steps}
    for index, step in enumerate(flow.steps):
        personal = any(m.member_id is not None and m.step_id == step.id for m in marks)
        user_requires = any(scopes.get(r) is Scope.USER for r in step.requires)
        if step.scope is Scope.USER or personal or user_requires:
            continue
        found = {v.steps[index].status for v in views}
        assert len(found) == 1 or found == {StepStatus.AVAILABLE, StepStatus.NEEDS_ROLE}


@given(st.lists(flows(), max_size=3), st.sampled_from(EVENTS))
def test_prop_steps_completed_by_event(flow_list: list[FlowDef], event: str) -> None:
    found = steps_completed_by_event(flow_list, event)
    expected = [(f.id, s.id) for f in flow_list for s in f.steps if s.completes_on == event]
    assert found == expected


@settings(max_examples=50)
@given(scenarios(min_steps=1))
def test_prop_unknown_step_is_always_not_found(scenario) -> None:
    flow, marks, viewer, members, _ = scenario
    for action in Action:
        error = check_action(flow, marks, viewer, "gone", action, members)
        assert error is not None
        assert error.code is ErrorCode.NOT_FOUND
