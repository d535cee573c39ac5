"""Role groups follow memberships: before membership_grant aligned them, a role changed or given
up left its group behind (a supervisor demoted to quality analyst kept the supervisor's
permissions). Each person's role groups become those of the roles they hold now."""

from django.conf import settings
from django.db import migrations


def align_role_groups(apps, schema_editor):
    from compliance.models import Role

    group_model = apps.get_model("auth", "Group")
    membership_model = apps.get_model("compliance", "Membership")
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    names = [role.group_name for role in Role]
    role_groups = {group.name: group for group in group_model.objects.filter(name__in=names)}
    held: dict[int, set[str]] = {}
    for user_id, role in membership_model.objects.values_list("user_id", "role"):
        held.setdefault(user_id, set()).add(Role(role).group_name)
    concerned = set(held) | set(
        user_model.objects.filter(groups__in=role_groups.values()).values_list("pk", flat=True)
    )
    for user in user_model.objects.filter(pk__in=concerned):
        names = held.get(user.pk, set())
        user.groups.remove(*[group for name, group in role_groups.items() if name not in names])
        user.groups.add(*[group for name, group in role_groups.items() if name in names])


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("compliance", "0008_role_groups_contract_outcome"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(align_role_groups, migrations.RunPython.noop)]
