"""Compliance officers start a purge dry run from the purge runs' page (what the next purge
would delete, nothing deleted): the officer's group gains the permission."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0024_dnc_lists_import"),
        ("recordings", "0015_certificate_search_and_dry_run"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
