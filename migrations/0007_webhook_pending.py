from tortoise import migrations
from tortoise.migrations import operations as ops

# The delivery worker claims the oldest pending messages, each the first pending one of its
# line (endpoint and organization; `webhook_message_line` finds those). Delivered and given-up
# messages stay for HEED_WEBHOOK_RETENTION_DAYS, so with only (state, next_attempt_at) the
# claim walked every kept message in id order: 34 ms per claim with 200,000 kept and 2,000
# pending (103 ms before a vacuum), against 0.16 ms with this index of the pending messages
# alone (EXPLAIN ANALYZE, Postgres 15). The claim (attempts, next_attempt_at) then changes no
# indexed column, so Postgres may update the row in place (HOT). A partial index is the same
# SQL on SQLite and Postgres; Tortoise's model indexes cannot say WHERE, hence raw SQL.


class Migration(migrations.Migration):
    dependencies = [("models", "0006_insight")]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name="WebhookMessage",
            name="webhook_message_due",
            fields=None,
        ),
        ops.RunSQL(
            "CREATE INDEX webhook_message_pending ON webhook_message (id) WHERE state = 'pending'",
            reverse_sql="DROP INDEX webhook_message_pending",
        ),
    ]
