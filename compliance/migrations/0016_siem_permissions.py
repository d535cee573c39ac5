"""Compliance officers set up and watch where their tenant's trail is forwarded (SIEM
forwarders): view, add and change; a forwarder is disabled, not deleted."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0015_incident_permissions"),
        ("audit", "0008_siem_forwarding"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
