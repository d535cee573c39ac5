"""Compliance officers triage alerts and handle incidents; supervisors and auditors read them."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0014_alert_rule_permissions"),
        ("audit", "0007_incidents"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
