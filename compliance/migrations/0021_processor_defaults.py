"""What the register of processing activities needs and Custodia did not know yet:

- the shipped purposes' categories of data subjects and of data, and their source (GDPR Art.
  30(1)(c)), where nobody has written them (a tenant's own purposes are its own to describe);
- the platform, every tenant's first processor (Art. 28), for the tenants that exist (a new
  tenant gets its row from compliance/services/processors.py::platform_processor_ensure);
- the roles' permissions on processors, risks, measures and DPIAs.
"""

from django.conf import settings
from django.db import migrations

CALLERS = "Callers (customers and prospects); the contact centre's agents"
CALL_DATA = (
    "Voice recording of the call; the caller's telephone number; date, time, duration and "
    "direction of the call; agent code; campaign"
)
FROM_THE_CALL = "Collected during the call itself, through the contact centre's telephony"

PURPOSE_CATEGORIES = {
    # code: (data subjects, data categories, source)
    "training": (CALLERS, CALL_DATA, FROM_THE_CALL),
    "quality": (CALLERS, CALL_DATA + "; quality evaluation", FROM_THE_CALL),
    "supervision": (
        "The contact centre's agents; callers",
        CALL_DATA + "; supervisor's assessment",
        FROM_THE_CALL,
    ),
    "telemarketing": (
        "Prospects and customers called, who consented to the recording; agents",
        CALL_DATA + "; the caller's consent decision",
        FROM_THE_CALL + "; the consent from the IVR or the agent",
    ),
    "call_analysis": (
        CALLERS,
        "Evaluation sheets and analyses drawn from recordings (not the audio); agent code",
        "Drawn from the recordings by supervisors and quality analysts",
    ),
    "insurance_telesales": (
        "Prospects and policyholders called; agents",
        CALL_DATA + "; the caller's agreement to the contract",
        FROM_THE_CALL,
    ),
    "investment_services": (
        "Clients giving orders or receiving investment services; the firm's staff",
        CALL_DATA + "; orders and transactions discussed",
        FROM_THE_CALL,
    ),
}


def purpose_categories_set(apps, schema_editor=None):
    """The shipped purposes' categories, where they are still empty (also called by
    tests/conftest.py after a transactional test's flush)."""
    purpose_model = apps.get_model("compliance", "Purpose")
    for code, (subjects, categories, source) in PURPOSE_CATEGORIES.items():
        for purpose in purpose_model.objects.filter(tenant=None, code=code):
            changed = False
            for name, value in (
                ("data_subjects", subjects),
                ("data_categories", categories),
                ("data_source", source),
            ):
                if not getattr(purpose, name):
                    setattr(purpose, name, value)
                    changed = True
            if changed:
                purpose.save(update_fields=["data_subjects", "data_categories", "data_source"])


def platform_processors_create(apps, schema_editor):
    tenant_model = apps.get_model("compliance", "Tenant")
    processor_model = apps.get_model("compliance", "Processor")
    for tenant in tenant_model.objects.all():
        processor_model.objects.get_or_create(
            tenant=tenant,
            is_platform=True,
            defaults={
                "name": settings.PLATFORM_OPERATOR_NAME,
                "country": settings.PLATFORM_OPERATOR_COUNTRY,
                "services": "Call recording, encrypted storage, purpose-bound listening, "
                "retention and deletion of recordings (Custodia)",
            },
        )


def sync_groups(apps, schema_editor):
    from compliance.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0020_processors_risks_dpia")]

    operations = [
        migrations.RunPython(purpose_categories_set, migrations.RunPython.noop),
        migrations.RunPython(platform_processors_create, migrations.RunPython.noop),
        migrations.RunPython(sync_groups, migrations.RunPython.noop),
    ]
