"""Compliance officers create campaigns, import their numbers and their screenings (Bloctel,
Lista Robinson); auditors read them: the groups gain the campaign's permissions."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0028_purge_dry_run_permission")]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
