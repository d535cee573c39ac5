"""Compliance officers record whether a contract followed an insurance telesales call."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0007_role_groups_consent_holds_purge"),
        ("recordings", "0004_contract_outcome_permission"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
