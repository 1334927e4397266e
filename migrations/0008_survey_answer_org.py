from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_webhook_pending')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='SurveyAnswer',
            index=Index(fields=['organization_id', 'question_type', 'created_at'], name='survey_answer_org_type'),
        ),
    ]
