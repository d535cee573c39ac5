from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # The index is built without blocking the purge's inserts into a table that grows by up to
    # a million rows a night.
    atomic = False

    dependencies = [
        ("recordings", "0014_recording_purpose_status"),
    ]

    operations = [
        # A deletion certificate found by its call id's keyed hash (the certificates' search,
        # the erased-call check of every upload).
        AddIndexConcurrently(
            model_name="deletioncertificate",
            index=models.Index(fields=["tenant", "call_id_hash"], name="certificate_call_id"),
        ),
        # Compliance officers start a purge dry run from the purge runs' page.
        migrations.AlterModelOptions(
            name="purgerun",
            options={
                "ordering": ("-started_at",),
                "permissions": [
                    (
                        "start_purge_dry_run",
                        "Can start a purge dry run (what the next purge would delete, nothing "
                        "deleted)",
                    )
                ],
            },
        ),
    ]
