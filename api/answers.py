"""Answers to state-reading queries, kept per worker until something they depend on changes.

A checklist widget asks the same question on every page load, and executing its ~700 fields
costs milliseconds of Python whatever the database does. An answer depends only on:
the document, operation and variables; who asks (organization, member, and every claim of
their token); the release served; the organization's state version, which every write to its
progress, members or help requests bumps in the same transaction; and, for announcements, the
clock. The version is read on every request, in the statement that also loads the viewer's
state (`load_versioned_viewer_states`, one statement for the requests that reach it
together), so a write on any worker is seen at once, and a miss costs no extra statement.
Fields that read the clock (`CLOCK_FIELDS`: `nextUp` and the insight fields, whose statuses
and windows move with time) keep a query out of the cache wherever in it they are selected:
they are never served stale.

Only query operations whose root fields read onboarding state are kept: content-only queries
cost no SQL and no reading of the version.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    parse,
    visit,
)

from api.content import Item
from api.content.catalog import LAST_MOMENT, shown_between
from api.context import Context
from api.progress.reads import SharedRows
from api.progress.store import VersionedState, load_versioned_viewer_states

# Per entry, besides the answer and the key's texts (query, variables, claims hash): the key
# tuple and its numbers, the entry, the dict slot (measured with tracemalloc: about 450 B).
ENTRY_OVERHEAD_BYTES = 450


def _size(key: tuple[Any, ...], body: bytes) -> int:
    """What an entry holds in memory: the answer, the key's texts (each request's own copy
    of the query) and the rest."""
    texts = sum(len(part) for part in key if isinstance(part, str | bytes))
    return len(body) + texts + ENTRY_OVERHEAD_BYTES


def exact(data: bytes) -> bytes:
    """`data` in a block of its own size. orjson's result keeps its whole growth buffer
    (kept answers held three times their size, and each key's variables 4 KB): what is kept
    must be a copy, or the cache's bound is not what the worker holds."""
    return bytes(memoryview(data))


@dataclass(frozen=True)
class Question:
    """A request that may be answered from the cache, with what its answer must match."""

    key: tuple[Any, ...]
    version: int
    release: int
    asked_at: float


@dataclass(frozen=True)
class _Answer:
    version: int
    release: int
    valid_until: float
    body: bytes


class AnswerCache:
    def __init__(
        self,
        state_fields: Collection[str],
        max_tokens: int,
        max_bytes: int,
        clock_fields: Collection[str] = (),
    ) -> None:
        self._state_fields = frozenset(state_fields)
        self._clock_fields = frozenset(clock_fields)
        self.max_tokens = max_tokens
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: OrderedDict[tuple[Any, ...], _Answer] = OrderedDict()
        self._changes: tuple[int, list[float]] = (-1, [])
        # Members and help requests by organization and version, for answers computed anew.
        self.organization_rows = SharedRows()
        self._versions = VersionReads()

    async def question(self, context: Context, params: Mapping[str, Any]) -> Question | None:
        """The cache key for this request, or None if its answer is not kept.

        Reads the organization's version with the viewer's state, and hands that state to the
        request's reads, so a miss computes its answer from exactly that version.
        """
        member = context.member
        if member is None or context.release is None:
            return None
        actor = context.actor
        query = params["query"]
        roots = root_fields(query, params.get("operationName"), self.max_tokens)
        if roots is None or not self.reads_state(roots):
            return None
        if not self._clock_fields.isdisjoint(field_names(query, self.max_tokens)):
            return None
        variables = params.get("variables")
        key = (
            actor.organization_pk,
            actor.member_pk,
            member.claims_hash,
            query,
            params.get("operationName"),
            exact(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)) if variables else b"",
        )
        held = self._answers.get(key)
        version, state = await self._versions.read(
            actor.organization_pk, actor.member_id, held.version if held else None
        )
        if state is not None:
            context.reads.prime_viewer_state(state)
        context.reads.share(self.organization_rows, version)
        return Question(key, version, context.release.number, time.time())

    def reads_state(self, roots: Collection[str]) -> bool:
        """Whether a query with these root fields reads onboarding state (not only content)."""
        return not self._state_fields.isdisjoint(roots)

    def get(self, question: Question) -> bytes | None:
        answer = self._answers.get(question.key)
        if (
            answer is None
            or answer.version != question.version
            or answer.release != question.release
            or question.asked_at >= answer.valid_until
        ):
            return None
        self._answers.move_to_end(question.key)
        return answer.body

    def put(self, question: Question, body: bytes, items: Iterable[Item]) -> None:
        """Keep an answer computed at `question.asked_at` from the given release's items."""
        size = _size(question.key, body)
        if size > self._max_bytes:
            return
        valid_until = self._next_content_change(question.release, items, question.asked_at)
        self._drop(question.key)
        answer = _Answer(question.version, question.release, valid_until, exact(body))
        self._answers[question.key] = answer
        self._bytes += size
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._answers)))

    def __len__(self) -> int:
        return len(self._answers)

    def _drop(self, key: tuple[Any, ...]) -> None:
        answer = self._answers.pop(key, None)
        if answer is not None:
            self._bytes -= _size(key, answer.body)

    def _next_content_change(self, release: int, items: Iterable[Item], now: float) -> float:
        """When the release's content next shows differently by itself: an announcement
        starting or ending. Computed once per release."""
        if self._changes[0] != release:
            self._changes = (release, content_changes(items))
        changes = self._changes[1]
        position = bisect.bisect_right(changes, now)
        return changes[position] if position < len(changes) else float("inf")


Asked = tuple[int, str, int | None]  # organization, member, version of the answer held


class VersionReads:
    """Requests that reach the version read in the same turn of the event loop read their
    versions (and states) in one statement. Under load a worker has several requests there
    at once, and a statement costs the worker and Postgres far more than a row more in one:
    each request still reads after it arrived, so it sees every write committed before."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Asked, asyncio.Future[VersionedState]]] = []
        self._reading: set[asyncio.Task[None]] = set()

    async def read(self, organization_pk: int, member_key: str, held: int | None) -> VersionedState:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VersionedState] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._read_waiting)  # after the requests already running this turn
        self._waiting.append(((organization_pk, member_key, held), future))
        return await future

    def _read_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._answer(waiting))
        self._reading.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._reading.discard)

    @staticmethod
    async def _answer(waiting: list[tuple[Asked, asyncio.Future[VersionedState]]]) -> None:
        try:
            answers = await load_versioned_viewer_states([asked for asked, _ in waiting])
        except Exception as exc:  # each request answers it as its own (a 503 for a lost database)
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), answer in zip(waiting, answers, strict=True):
            if future.done():  # the request went away meanwhile
                continue
            if isinstance(answer, LookupError):
                future.set_exception(answer)
            else:
                future.set_result(answer)


def content_changes(items: Iterable[Item]) -> list[float]:
    """Sorted moments (Unix seconds) at which an announcement's `is_live` flips."""
    moments = set()
    for item in items:
        if item.kind != "announcement":
            continue
        starts, ends = shown_between(item)
        if starts is not None:
            moments.add(starts.timestamp())
        if ends is not None:
            moments.add((ends + LAST_MOMENT).timestamp())
    return sorted(moments)


@functools.lru_cache(maxsize=512)
def field_names(query: str, max_tokens: int) -> frozenset[str]:
    """Every field name a document selects, at any depth and in any fragment (a document
    that does not parse selects none: execution answers it)."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return frozenset()
    names: set[str] = set()

    class Collect(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            names.add(node.name.value)

    visit(document, Collect())
    return frozenset(names)


@functools.lru_cache(maxsize=512)
def root_fields(query: str, operation_name: str | None, max_tokens: int) -> frozenset[str] | None:
    """The root fields of the query operation a request runs; None for anything else (a
    mutation, a fragment at the root, a document that does not parse: execution answers)."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None
    selections = operations[0].selection_set.selections
    if not all(isinstance(selection, FieldNode) for selection in selections):
        return None
    return frozenset(selection.name.value for selection in selections)  # type: ignore[attr-defined]
