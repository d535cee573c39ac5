"""Roles gain consents, legal holds, purge runs and deletion certificates."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0006_consents_legal_holds"),
        ("recordings", "0002_purge"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
