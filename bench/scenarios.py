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
COMPLETE = (
    "mutation Complete($input: StepInput!) { completeStep(input: $input) {"
    " step { id status } flow { id progress { done total percent } }"
    " userErrors { code message } } }"
)
KEY = "__KEY__"
STEP = "__STEP__"


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    writes: bool = False  # uses the completeStep token pool, a fresh key per request
    # Every reader sent this request once before the run, as on a page load after the first:
    # what changed since (the write scenarios' organizations) is computed again.
    seen_before: bool = False
    webhook: bool = False  # one endpoint subscribed to step.completed while it runs

    def body(self, key: str = KEY, step: str = STEP) -> bytes:
        """The JSON body; keyed scenarios get their idempotency key and step substituted."""
        text = orjson.dumps({"query": self.query, "variables": self.variables}).decode()
        return text.replace(KEY, key).replace(STEP, step).encode()


def scenarios(user_flow: str, content_item: str) -> list[Scenario]:
    """Typename first: the others are reported as fractions of it."""
    return [
        Scenario("typename", "{ __typename }"),
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
            COMPLETE,
            {"input": {"flowId": user_flow, "stepId": STEP, "idempotencyKey": KEY}},
            writes=True,
        ),
        # The same write with one endpoint receiving every step.completed: what the outbox
        # and the delivery worker cost the API.
        Scenario(
            "complete_step_webhook",
            COMPLETE,
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
        "help": lambda: bool(data["help"]),
        "search": lambda: bool(data["searchHelp"]),
        "content_item": lambda: bool(data["contentItem"]["bodyHtml"]),
        "complete_step": lambda: (
            not [
                e
                for e in data["completeStep"]["userErrors"]
                if e["code"] not in ("ALREADY_DONE", "ALREADY_SKIPPED")
            ]
        ),
    }
    checks["complete_step_webhook"] = checks["complete_step"]
    check = checks.get(name)
    return [] if check is None or check() else [f"{name}: unexpected answer {str(data)[:300]}"]
