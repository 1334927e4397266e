from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_engagement')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HealthSnapshot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('period', fields.CharField(max_length=32)),
                ('score', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'health_snapshot', 'app': 'models', 'unique_together': (('organization', 'period'),), 'pk_attr': 'id', 'table_description': "An organization's health score as the insight job saw it in one period: what a"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InsightMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=64)),
                ('subject', fields.CharField(max_length=400)),
                ('period', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'insight_mark', 'app': 'models', 'unique_together': (('organization', 'kind', 'subject', 'period'),), 'indexes': [Index(fields=['period'], name='insight_mark_period')], 'pk_attr': 'id', 'table_description': 'A signal recorded once: a milestone reached or overdue (period empty), or a nudge'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MilestoneTarget',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('milestone_id', fields.CharField(max_length=128)),
                ('target_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('previous_target_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('moved_by', fields.CharField(max_length=128)),
                ('reason', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'milestone_target', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'milestone_id', 'id'], name='milestone_target_org')], 'pk_attr': 'id', 'table_description': "A milestone's target date moved for one organization: who moved it, why and when."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Event',
            index=Index(fields=['name', 'organization_id', 'created_at'], name='event_name_org'),
        ),
    ]
