from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# The transactional outbox: every event row an endpoint subscribes to (by type or "*", for
# every organization or its own) becomes a webhook_message row in the same transaction, at
# no extra statement for the writer. App events (kind 'app') are the host's own input, never
# webhooks. On Postgres the trigger wakes the delivery workers (NOTIFY is sent at commit).
# SQLite drops triggers when it rebuilds a table: a later migration that rebuilds `event`
# must create this trigger again (tests/test_webhooks.py checks that it exists).
_MESSAGES = (
    "INSERT INTO webhook_message (public_id, endpoint_id, event_id, organization_id, state,"
    " attempts, attempt_base, next_attempt_at, created_at)"
    " SELECT {public_id}, s.endpoint_id, NEW.id, NEW.organization_id, 'pending', 0, 0,"
    " NEW.created_at, NEW.created_at"
    " FROM webhook_subscription s JOIN webhook_endpoint e ON e.id = s.endpoint_id"
    " WHERE s.event_type IN (NEW.name, '*') AND e.enabled"
    " AND (e.organization_id IS NULL OR e.organization_id = NEW.organization_id)"
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER webhook_outbox AFTER INSERT ON event WHEN NEW.kind <> 'app' BEGIN "
    + _MESSAGES.format(public_id="'msg_' || lower(hex(randomblob(16)))")
    + "; END"
)
POSTGRES_TRIGGER = (
    "CREATE FUNCTION webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    + _MESSAGES.format(public_id="'msg_' || replace(gen_random_uuid()::text, '-', '')")
    + "; IF FOUND THEN PERFORM pg_notify('heed_webhooks', ''); END IF; RETURN NULL; END $$",
    "CREATE TRIGGER webhook_outbox AFTER INSERT ON event FOR EACH ROW"
    " WHEN (NEW.kind <> 'app') EXECUTE FUNCTION webhook_outbox()",
)


async def create_outbox_trigger(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for statement in POSTGRES_TRIGGER if postgres else (SQLITE_TRIGGER,):
        await client.execute_script(statement)


async def drop_outbox_trigger(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(
        "DROP TRIGGER IF EXISTS webhook_outbox"
        + (" ON event" if client.capabilities.dialect == "postgres" else "")
    )
    if client.capabilities.dialect == "postgres":
        await client.execute_script("DROP FUNCTION IF EXISTS webhook_outbox()")


class Migration(migrations.Migration):
    dependencies = [("models", "0003_organization_state_version")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WebhookEndpoint",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=32)),
                ("url", fields.CharField(max_length=2048)),
                ("description", fields.CharField(null=True, max_length=500)),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("events", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("secret", fields.CharField(max_length=128)),
                ("previous_secret", fields.CharField(null=True, max_length=128)),
                (
                    "previous_secret_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("enabled", fields.BooleanField(default=True)),
                ("disabled_reason", fields.TextField(null=True, unique=False)),
                (
                    "failing_since",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "webhook_endpoint",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A URL the host product listens on for events, signed with the endpoint's secret.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookMessage",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=40)),
                (
                    "endpoint",
                    fields.ForeignKeyField(
                        "models.WebhookEndpoint",
                        source_field="endpoint_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="messages",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "event",
                    fields.ForeignKeyField(
                        "models.Event",
                        source_field="event_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("state", fields.CharField(default="pending", max_length=16)),
                ("attempts", fields.IntField(default=0)),
                ("attempt_base", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "delivered_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "webhook_message",
                "app": "models",
                "unique_together": (("endpoint", "event"),),
                "indexes": [
                    Index(fields=["state", "next_attempt_at"], name="webhook_message_due"),
                    Index(
                        fields=["endpoint_id", "organization_id", "state"],
                        name="webhook_message_line",
                    ),
                ],
                "pk_attr": "id",
                "table_description": "The outbox: one event to send to one endpoint.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookDelivery",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("public_id", fields.CharField(unique=True, max_length=32)),
                (
                    "message",
                    fields.ForeignKeyField(
                        "models.WebhookMessage",
                        source_field="message_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "endpoint",
                    fields.ForeignKeyField(
                        "models.WebhookEndpoint",
                        source_field="endpoint_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("attempt", fields.IntField()),
                ("succeeded", fields.BooleanField()),
                ("status_code", fields.IntField(null=True)),
                ("latency_ms", fields.IntField(null=True)),
                ("error", fields.TextField(null=True, unique=False)),
                ("response", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "webhook_delivery",
                "app": "models",
                "indexes": [Index(fields=["endpoint_id", "id"], name="webhook_delivery_endpoint")],
                "pk_attr": "id",
                "table_description": "The delivery log: one attempt to send one message, and what the receiver answered.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookSubscription",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "endpoint",
                    fields.ForeignKeyField(
                        "models.WebhookEndpoint",
                        source_field="endpoint_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="subscriptions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("event_type", fields.CharField(max_length=64)),
            ],
            options={
                "table": "webhook_subscription",
                "app": "models",
                "unique_together": (("endpoint", "event_type"),),
                "indexes": [Index(fields=["event_type"], name="webhook_subscription_type")],
                "pk_attr": "id",
                "table_description": 'One event type (or "*") an endpoint wants: what the outbox trigger matches events on.',
            },
            bases=["Model"],
        ),
        ops.RunPython(create_outbox_trigger, drop_outbox_trigger),
    ]
