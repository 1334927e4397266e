"""Onboarding progress: the use cases that read and change it, the write unit they share,
the pure step-status engine, and the store that holds all of its SQL.

The engine's names are re-exported here for tests and callers that only need the rules.
"""

from api.progress.engine import (
    Action,
    ActionError,
    ErrorCode,
    FlowDef,
    FlowRecord,
    FlowState,
    FlowView,
    Mark,
    MarkState,
    Member,
    Scope,
    StepDef,
    StepStatus,
    StepView,
    check_action,
    current_marks,
    evaluate_flow,
    holds_role,
    mark_key,
    steps_completed_by_event,
)

__all__ = [
    "Action",
    "ActionError",
    "ErrorCode",
    "FlowDef",
    "FlowRecord",
    "FlowState",
    "FlowView",
    "Mark",
    "MarkState",
    "Member",
    "Scope",
    "StepDef",
    "StepStatus",
    "StepView",
    "check_action",
    "current_marks",
    "evaluate_flow",
    "holds_role",
    "mark_key",
    "steps_completed_by_event",
]
