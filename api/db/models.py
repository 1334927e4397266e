"""Tortoise models: the only state Heed stores.

Every table that holds onboarding state carries `organization_id`, so rows can be distributed
by organization (Citus) and every query can be scoped to one tenant.
Model docstrings become SQL table comments, and Tortoise splits scripts on semicolons:
keep semicolons out of them.
Ids exposed by the API are the host product's (`external_id`) or the writers' (flow, step and
content ids); the integer primary keys never leave the service.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Organization(Model):
    """A customer account of the host product, created on first sight from a token's `org`."""

    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, unique=True)
    name = fields.CharField(max_length=200, null=True)
    owner: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # Bumped by every write to the organization's onboarding state, its members or its help
    # requests, in the same transaction: cached answers are valid for one version only.
    state_version = fields.BigIntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "organization"


class Member(Model):
    """A user of an organization. Roles and attributes mirror the latest token seen."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="members", on_delete=fields.CASCADE
    )
    external_id = fields.CharField(max_length=128)
    name = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=320, null=True)
    locale = fields.CharField(max_length=35, null=True)
    roles = fields.JSONField(default=list)
    attributes = fields.JSONField(default=dict)
    claims_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("organization", "external_id"),)


class StepState(Model):
    """Where one step (or one flow) stands for one organization or one member.

    `member_key` is the member's external id, or "" for organization-scoped rows: a plain
    non-null column so the unique constraint holds on both databases (NULLs never collide).
    A row with `step_id` "" is the flow's own record (`completed` or `dismissed`), kept in
    this table so that one query loads everything a viewer's checklist needs.
    Step rows are `done`, `skipped`, or `assigned` (an assignee and nothing done yet).
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="step_states", on_delete=fields.CASCADE
    )
    member_key = fields.CharField(max_length=128, default="")
    flow_id = fields.CharField(max_length=128)
    step_id = fields.CharField(max_length=128)
    state = fields.CharField(max_length=16)
    by_member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="step_marks", on_delete=fields.CASCADE
    )
    flow_revision = fields.IntField()
    at = fields.DatetimeField()
    assignee: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="assigned_steps", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "step_state"
        unique_together = (("organization", "member_key", "flow_id", "step_id"),)


class Event(Model):
    """Append-only record of what happened. Every metric is computed from these rows."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="events", on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    properties = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event"
        indexes = (
            Index(fields=("organization_id", "created_at"), name="event_org_created"),
            # Milestones and KPIs count one app event per organization (or across them).
            Index(fields=("name", "organization_id", "created_at"), name="event_name_org"),
        )


class HelpRequest(Model):
    """A member asks a colleague (a member, or an email not seen yet) to do a step."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    token = fields.CharField(max_length=64, unique=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="help_requests", on_delete=fields.CASCADE
    )
    flow_id = fields.CharField(max_length=128)
    step_id = fields.CharField(max_length=128)
    inviter: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="help_requests_sent", on_delete=fields.CASCADE
    )
    invitee: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member",
        related_name="help_requests_received",
        null=True,
        on_delete=fields.CASCADE,
    )
    invitee_email = fields.CharField(max_length=320, null=True)
    message = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default="open")
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)
    resolved_by: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "help_request"
        indexes = (Index(fields=("organization_id", "status"), name="help_request_org_status"),)


class IdempotentResult(Model):
    """The outcome of a mutation sent with an idempotency key, replayed on retries."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    member_key = fields.CharField(max_length=128)
    key = fields.CharField(max_length=128)
    operation = fields.CharField(max_length=64)
    outcome = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotent_result"
        unique_together = (("organization", "member_key", "key"),)


class Release(Model):
    """An immutable, numbered snapshot of all published content."""

    number = fields.IntField(primary_key=True)
    content_hash = fields.CharField(max_length=64, db_index=True)
    item_count = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "release"


class ContentRevision(Model):
    """One revision of one item in one locale, rendered once at publish time."""

    id = fields.BigIntField(primary_key=True)
    item_id = fields.CharField(max_length=128)
    locale = fields.CharField(max_length=35)
    revision = fields.IntField()
    source_hash = fields.CharField(max_length=64)
    payload = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "content_revision"
        unique_together = (("item_id", "locale", "revision"),)


class ReleaseItem(Model):
    """Which revision of each item a release serves."""

    id = fields.BigIntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="items", on_delete=fields.CASCADE
    )
    revision: fields.ForeignKeyRelation[ContentRevision] = fields.ForeignKeyField(
        "models.ContentRevision", related_name="releases", on_delete=fields.RESTRICT
    )

    class Meta:
        table = "release_item"
        unique_together = (("release", "revision"),)


class WebhookEndpoint(Model):
    """A URL the host product listens on for events, signed with the endpoint's secret.

    `previous_secret` keeps signing (as a second signature) until it expires after a rotation.
    `failing_since` is the start of the current run of failed deliveries (none after a success).
    """

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=500, null=True)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, null=True, on_delete=fields.CASCADE
    )
    events = fields.JSONField(default=list)
    secret = fields.CharField(max_length=128)
    previous_secret = fields.CharField(max_length=128, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.TextField(null=True)
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_endpoint"


class WebhookSubscription(Model):
    """One event type (or "*") an endpoint wants: what the outbox trigger matches events on."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="subscriptions", on_delete=fields.CASCADE
    )
    event_type = fields.CharField(max_length=64)

    class Meta:
        table = "webhook_subscription"
        unique_together = (("endpoint", "event_type"),)
        indexes = (Index(fields=("event_type",), name="webhook_subscription_type"),)


class WebhookMessage(Model):
    """The outbox: one event to send to one endpoint.

    Written by the `webhook_outbox` trigger on `event` (migration 0004), in the event's own
    transaction. `public_id` is the webhook-id, the same on every attempt, and
    `next_attempt_at` doubles as the lease of the worker sending it.
    """

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="messages", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name=False, on_delete=fields.CASCADE
    )
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    attempt_base = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_message"
        unique_together = (("endpoint", "event"),)
        # The pending messages have a partial index of their own (migration 0007): the claim
        # changes no indexed column, so Postgres may update its row in place (HOT).
        indexes = (
            Index(fields=("endpoint_id", "organization_id", "state"), name="webhook_message_line"),
        )


class WebhookDelivery(Model):
    """The delivery log: one attempt to send one message, and what the receiver answered."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    message: fields.ForeignKeyRelation[WebhookMessage] = fields.ForeignKeyField(
        "models.WebhookMessage", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    succeeded = fields.BooleanField()
    status_code = fields.IntField(null=True)
    latency_ms = fields.IntField(null=True)
    error = fields.TextField(null=True)
    response = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_delivery"
        indexes = (Index(fields=("endpoint_id", "id"), name="webhook_delivery_endpoint"),)


class SurveyResponse(Model):
    """One member's answers to one revision of a survey (the answers are `survey_answer` rows)."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name=False, on_delete=fields.CASCADE
    )
    survey_id = fields.CharField(max_length=128)
    survey_revision = fields.IntField()
    locale = fields.CharField(max_length=35)
    created_at = fields.DatetimeField()

    class Meta:
        table = "survey_response"
        indexes = (
            Index(fields=("survey_id", "created_at"), name="survey_response_survey_created"),
        )


class SurveyAnswer(Model):
    """One answer: a number (NPS, CSAT), one chosen option (a row per option picked), or a
    text. Results are aggregated in SQL from these rows."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    response_id = fields.CharField(max_length=32)
    survey_id = fields.CharField(max_length=128)
    question_id = fields.CharField(max_length=128)
    question_type = fields.CharField(max_length=16)
    number = fields.IntField(null=True)
    choice = fields.CharField(max_length=500, null=True)
    text = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "survey_answer"
        indexes = (
            Index(fields=("survey_id", "created_at"), name="survey_answer_survey_created"),
            # one organization's NPS (a dashboard's health) without a scan of every answer
            Index(
                fields=("organization_id", "question_type", "created_at"),
                name="survey_answer_org_type",
            ),
        )


class ItemMark(Model):
    """What one member did with one content item, by item id (so it survives content
    changes): first seen, last shown (on which surface), dismissed, answered (surveys)."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    member_key = fields.CharField(max_length=128)
    item_id = fields.CharField(max_length=128)
    surface = fields.CharField(max_length=16, null=True)
    seen_at = fields.DatetimeField(null=True)
    shown_at = fields.DatetimeField(null=True)
    dismissed_at = fields.DatetimeField(null=True)
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "item_mark"
        unique_together = (("organization", "member_key", "item_id"),)


class BadgeAward(Model):
    """A badge a member earned. The unique key makes earning it happen once."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    member_key = fields.CharField(max_length=128)
    badge_id = fields.CharField(max_length=128)
    earned_at = fields.DatetimeField()

    class Meta:
        table = "badge_award"
        unique_together = (("organization", "member_key", "badge_id"),)


class MilestoneTarget(Model):
    """A milestone's target date moved for one organization: who moved it, why and when.

    The latest row per organization and milestone is the target in force, the others its
    history.
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    milestone_id = fields.CharField(max_length=128)
    target_at = fields.DatetimeField()
    previous_target_at = fields.DatetimeField()
    moved_by = fields.CharField(max_length=128)
    reason = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "milestone_target"
        indexes = (
            Index(fields=("organization_id", "milestone_id", "id"), name="milestone_target_org"),
        )


class InsightMark(Model):
    """A signal recorded once: a milestone reached or overdue (period empty), or a nudge
    about one thing in one period. The unique key makes the insight job idempotent."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=64)
    subject = fields.CharField(max_length=400)
    period = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()

    class Meta:
        table = "insight_mark"
        unique_together = (("organization", "kind", "subject", "period"),)
        # The job reads a period's marks before recording (a second run writes nothing).
        indexes = (Index(fields=("period",), name="insight_mark_period"),)


class HealthSnapshot(Model):
    """An organization's health score as the insight job saw it in one period: what a
    falling score is measured against."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    period = fields.CharField(max_length=32)
    score = fields.IntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "health_snapshot"
        unique_together = (("organization", "period"),)
