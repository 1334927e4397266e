from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HelpRequest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='help_requests', on_delete=OnDelete.CASCADE)),
                ('flow_id', fields.CharField(max_length=128)),
                ('step_id', fields.CharField(max_length=128)),
                ('inviter', fields.ForeignKeyField('models.Member', source_field='inviter_id', db_constraint=True, to_field='id', related_name='help_requests_sent', on_delete=OnDelete.CASCADE)),
                ('invitee', fields.ForeignKeyField('models.Member', source_field='invitee_id', null=True, db_constraint=True, to_field='id', related_name='help_requests_received', on_delete=OnDelete.CASCADE)),
                ('invitee_email', fields.CharField(null=True, max_length=320)),
                ('message', fields.TextField(null=True, unique=False)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.ForeignKeyField('models.Member', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'help_request', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'status'], name='help_request_org_status')], 'pk_attr': 'id', 'table_description': 'A member asks a colleague (a member, or an email not seen yet) to do a step.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdempotentResult',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member_key', fields.CharField(max_length=128)),
                ('key', fields.CharField(max_length=128)),
                ('operation', fields.CharField(max_length=64)),
                ('outcome', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idempotent_result', 'app': 'models', 'unique_together': (('organization', 'member_key', 'key'),), 'pk_attr': 'id', 'table_description': 'The outcome of a mutation sent with an idempotency key, replayed on retries.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Organization',
            name='owner',
            field=fields.ForeignKeyField('models.Member', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterModelOptions(
            name='StepState',
            options={'table': 'step_state', 'app': 'models', 'unique_together': (('organization', 'member_key', 'flow_id', 'step_id'),), 'pk_attr': 'id', 'table_description': 'Where one step (or one flow) stands for one organization or one member.'},
        ),
        ops.AddField(
            model_name='StepState',
            name='assignee',
            field=fields.ForeignKeyField('models.Member', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_steps', on_delete=OnDelete.SET_NULL),
        ),
    ]
