from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ContentRevision',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item_id', fields.CharField(max_length=128)),
                ('locale', fields.CharField(max_length=35)),
                ('revision', fields.IntField()),
                ('source_hash', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'content_revision', 'app': 'models', 'unique_together': (('item_id', 'locale', 'revision'),), 'pk_attr': 'id', 'table_description': 'One revision of one item in one locale, rendered once at publish time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organization',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_id', fields.CharField(unique=True, max_length=128)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'organization', 'app': 'models', 'pk_attr': 'id', 'table_description': "A customer account of the host product, created on first sight from a token's `org`."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(max_length=128)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('email', fields.CharField(null=True, max_length=320)),
                ('locale', fields.CharField(null=True, max_length=35)),
                ('roles', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('attributes', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('claims_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'member', 'app': 'models', 'unique_together': (('organization', 'external_id'),), 'pk_attr': 'id', 'table_description': 'A user of an organization. Roles and attributes mirror the latest token seen.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('properties', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'event', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'created_at'], name='event_org_created')], 'pk_attr': 'id', 'table_description': 'Append-only record of what happened. Every metric is computed from these rows.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Release',
            fields=[
                ('number', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('content_hash', fields.CharField(db_index=True, max_length=64)),
                ('item_count', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'release', 'app': 'models', 'pk_attr': 'number', 'table_description': 'An immutable, numbered snapshot of all published content.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReleaseItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='number', related_name='items', on_delete=OnDelete.CASCADE)),
                ('revision', fields.ForeignKeyField('models.ContentRevision', source_field='revision_id', db_constraint=True, to_field='id', related_name='releases', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'release_item', 'app': 'models', 'unique_together': (('release', 'revision'),), 'pk_attr': 'id', 'table_description': 'Which revision of each item a release serves.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StepState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='step_states', on_delete=OnDelete.CASCADE)),
                ('member_key', fields.CharField(default='', max_length=128)),
                ('flow_id', fields.CharField(max_length=128)),
                ('step_id', fields.CharField(max_length=128)),
                ('state', fields.CharField(max_length=16)),
                ('by_member', fields.ForeignKeyField('models.Member', source_field='by_member_id', db_constraint=True, to_field='id', related_name='step_marks', on_delete=OnDelete.CASCADE)),
                ('flow_revision', fields.IntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'step_state', 'app': 'models', 'unique_together': (('organization', 'member_key', 'flow_id', 'step_id'),), 'pk_attr': 'id', 'table_description': 'Where one step stands for one organization (org scope) or one member (user scope).'},
            bases=['Model'],
        ),
    ]
