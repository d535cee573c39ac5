from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without blocking the purge's inserts into a table that grows by up to a million
    # rows a night.
    atomic = False

    dependencies = [
        ("recordings", "0013_subject_export"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="deletioncertificate",
            index=models.Index(fields=["tenant", "call_id_hash"], name="certificate_call_id"),
        ),
    ]
