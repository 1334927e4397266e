"""The requests the benchmark sends: one GraphQL body per scenario, as a front end sends it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

HOME = (
    "query Home { viewer { member { id name } organization { id name } roles helpRequests { id } }"
    " flows { id title state progress { done total percent } nextStep { id title }"
    " steps { id title status scope roles optional completedAt candidates { id name }"
    " bodyHtml } } }"
)
_STEP_ANSWER = (
    "(input: $input) { step { id status } flow { id progress { done total percent } }"
    " userErrors { code message } }"
)
# A member completes the flow's steps one pass at a time, then reopens them one pass at a time,
# and so on (bench/wrk.lua picks the operation): every request changes state and records an
# event, however long the run.
STEP_CHANGE = (
    f"mutation Complete($input: StepInput!) {{ completeStep{_STEP_ANSWER} }}"
    f" mutation Reopen($input: StepInput!) {{ reopenStep{_STEP_ANSWER} }}"
)
# What a team gets from PostGraphile 4 pointed at Heed's tables (bench/peer.py): the member,
# their organization, and the organization's and the member's step-state rows.
CHECKLIST = (
    "query Checklist($org: String!, $member: String!) {"
    " organizationByExternalId(externalId: $org) { id externalId name"
    " membersByOrganizationId(condition: {externalId: $member}) {"
    " nodes { id externalId name email locale roles } }"
    ' organizationSteps: stepStatesByOrganizationId(condition: {memberKey: ""}) {'
    " nodes { flowId stepId state at assigneeId } }"
    " memberSteps: stepStatesByOrganizationId(condition: {memberKey: $member}) {"
    " nodes { flowId stepId state at } } } }"
)
KEY = "__KEY__"
STEP = "__STEP__"
OPERATION = "__OP__"


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    writes: bool = False  # the step-change token pool, a fresh key and operation per request
    # Every reader sent this request once before the run, as on a page load after the first:
    # what changed since (the write scenarios' organizations) is computed again.
    seen_before: bool = False
    webhook: bool = False  # one endpoint subscribed to the step events while it runs
    # Who answers: Heed, the floor (a bare Starlette endpoint) or the peer (PostGraphile 4).
    server: str = "heed"

    def body(self, key: str = KEY, step: str = STEP, operation: str = OPERATION) -> bytes:
        """The JSON body; write scenarios get their idempotency key, step and operation
        substituted."""
        document: dict[str, Any] = {"query": self.query, "variables": self.variables}
        if self.writes:
            document["operationName"] = OPERATION
        text = orjson.dumps(document).decode()
        return text.replace(KEY, key).replace(STEP, step).replace(OPERATION, operation).encode()


def scenarios(user_flow: str, content_item: str) -> list[Scenario]:
    """Typename first: the others are reported as fractions of it, of the floor and of the
    peer (both measured in the same rounds)."""
    return [
        Scenario("typename", "{ __typename }"),
        Scenario("floor", "{ __typename }", server="floor"),
        Scenario("peer", CHECKLIST, server="peer"),
        Scenario("home", HOME, seen_before=True),
        # The same query with a fresh variable per request: never answered from the cache,
        # so what a first page load (or one after a write) costs.
        Scenario("home_uncached", HOME, {"noCache": KEY}),
        Scenario("help", '{ help(context: "settings.devices", first: 5) { id title bodyHtml } }'),
        Scenario(
            "search",
            '{ searchHelp(query: "visitor badge printer", first: 10)'
            " { item { id title } highlight } }",
        ),
        Scenario(
            "content_item",
            f'{{ contentItem(id: "{content_item}") {{ bodyMarkdown bodyHtml bodyTree }} }}',
        ),
        Scenario(
            "complete_step",
            STEP_CHANGE,
            {"input": {"flowId": user_flow, "stepId": STEP, "idempotencyKey": KEY}},
            writes=True,
        ),
        # The same writes with one endpoint receiving every event they make: what the outbox
        # and the delivery worker cost the API.
        Scenario(
            "complete_step_webhook",
            STEP_CHANGE,
            {"input": {"flowId": user_flow, "stepId": STEP, "idempotencyKey": KEY}},
            writes=True,
            webhook=True,
        ),
    ]


def problems(name: str, payload: dict[str, Any]) -> list[str]:
    """What is wrong with a response, so a broken scenario never gets benchmarked."""
    if payload.get("errors"):
        return [f"{name}: {payload['errors'][:2]}"]
    data = payload.get("data") or {}
    checks = {
        "home": lambda: bool(data["flows"]) and bool(data["flows"][0]["steps"]),
        "home_uncached": lambda: bool(data["flows"]) and bool(data["flows"][0]["steps"]),
        "floor": lambda: data == {"__typename": "Query"},
        "peer": lambda: bool(data["organizationByExternalId"]["membersByOrganizationId"]["nodes"]),
        "help": lambda: bool(data["help"]),
        "search": lambda: bool(data["searchHelp"]),
        "content_item": lambda: bool(data["contentItem"]["bodyHtml"]),
        "complete_step": lambda: not (data.get("completeStep") or data["reopenStep"])["userErrors"],
    }
    checks["complete_step_webhook"] = checks["complete_step"]
    check = checks.get(name)
    return [] if check is None or check() else [f"{name}: unexpected answer {str(data)[:300]}"]
