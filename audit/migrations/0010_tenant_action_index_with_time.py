from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # The new index is built, then the old one dropped, without blocking appends to a large,
    # live trail; until the new one is valid, the old one answers.
    atomic = False

    dependencies = [
        ("audit", "0009_translated_labels"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(
                fields=["tenant", "action", "-sequence"],
                include=("occurred_at",),
                name="audit_tenant_action_at",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="auditevent",
            name="audit_tenant_action_seq",
        ),
    ]
