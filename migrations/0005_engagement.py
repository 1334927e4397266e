from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BadgeAward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member_key', fields.CharField(max_length=128)),
                ('badge_id', fields.CharField(max_length=128)),
                ('earned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'badge_award', 'app': 'models', 'unique_together': (('organization', 'member_key', 'badge_id'),), 'pk_attr': 'id', 'table_description': 'A badge a member earned. The unique key makes earning it happen once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ItemMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member_key', fields.CharField(max_length=128)),
                ('item_id', fields.CharField(max_length=128)),
                ('surface', fields.CharField(null=True, max_length=16)),
                ('seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('shown_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('dismissed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'item_mark', 'app': 'models', 'unique_together': (('organization', 'member_key', 'item_id'),), 'pk_attr': 'id', 'table_description': 'What one member did with one content item, by item id (so it survives content'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyAnswer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('response_id', fields.CharField(max_length=32)),
                ('survey_id', fields.CharField(max_length=128)),
                ('question_id', fields.CharField(max_length=128)),
                ('question_type', fields.CharField(max_length=16)),
                ('number', fields.IntField(null=True)),
                ('choice', fields.CharField(null=True, max_length=500)),
                ('text', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'survey_answer', 'app': 'models', 'indexes': [Index(fields=['survey_id', 'created_at'], name='survey_answer_survey_created')], 'pk_attr': 'id', 'table_description': 'One answer: a number (NPS, CSAT), one chosen option (a row per option picked), or a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyResponse',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('survey_id', fields.CharField(max_length=128)),
                ('survey_revision', fields.IntField()),
                ('locale', fields.CharField(max_length=35)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'survey_response', 'app': 'models', 'indexes': [Index(fields=['survey_id', 'created_at'], name='survey_response_survey_created')], 'pk_attr': 'id', 'table_description': "One member's answers to one revision of a survey (the answers are `survey_answer` rows)."},
            bases=['Model'],
        ),
    ]
