"""Roles gain the permissions of purposes, retention policies, API keys and recordings."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_retention_presets"),
        ("recordings", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
