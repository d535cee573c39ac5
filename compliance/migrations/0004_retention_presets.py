"""The shipped purposes and retention presets, each citing its source."""

from datetime import date

from django.db import migrations

PURPOSES = [
    # code, name, legal basis, requires consent, default months, description
    ("training", "Agent training", "legitimate_interest", False, 6,
     "Recordings used to train agents."),
    ("quality", "Quality monitoring", "legitimate_interest", False, 6,
     "Sampling calls to measure and improve service quality."),
    ("supervision", "Performance supervision", "legitimate_interest", False, 6,
     "Supervisors reviewing an agent's calls."),
    ("telemarketing", "Telemarketing", "consent", True, 6,
     "Outbound commercial calls; recorded only with the caller's consent."),
    ("call_analysis", "Call analysis documents", "legitimate_interest", False, 12,
     "Evaluation sheets and analyses drawn from recordings (not the audio)."),
    ("insurance_telesales", "Insurance telesales", "legal_obligation", True, 24,
     "Distance selling of insurance by telephone: proof of the caller's agreement."),
    ("investment_services", "Investment services (MiFID II)", "legal_obligation", False, 60,
     "Telephone conversations relating to client orders and transactions."),
]

POLICIES = [
    # purpose codes, name, months, maximum, action, reference
    (["training", "quality", "supervision", "telemarketing"], "CNIL — call recording at work, audio",
     6, 6, "delete",
     "CNIL, « L'écoute et l'enregistrement des appels sur le lieu de travail »: recordings are kept "
     "at most 6 months."),
    (["call_analysis"], "CNIL — call analysis documents", 12, 12, "delete",
     "CNIL, « L'écoute et l'enregistrement des appels sur le lieu de travail »: analysis documents "
     "are kept at most 1 year."),
    (["insurance_telesales"], "Insurance telesales — Code des assurances", 24, 24, "delete",
     "Code des assurances, art. R.112-7: recording kept 2 years from signature; destroyed if no "
     "contract follows; a caller who refuses recording is offered no recorded call."),
    (["investment_services"], "MiFID II — Art. 16(7)", 60, 84, "delete",
     "Directive 2014/65/EU (MiFID II) art. 16(7): records kept 5 years, and up to 7 years where "
     "the competent authority requests it."),
]


def create_presets(apps, schema_editor):
    purpose_model = apps.get_model("compliance", "Purpose")
    policy_model = apps.get_model("compliance", "RetentionPolicy")
    purposes = {}
    for code, name, basis, consent, months, description in PURPOSES:
        purposes[code], _ = purpose_model.objects.get_or_create(
            tenant=None,
            code=code,
            defaults={
                "name": name,
                "legal_basis": basis,
                "requires_consent": consent,
                "default_retention_months": months,
                "description": description,
            },
        )
    for codes, name, months, maximum, action, reference in POLICIES:
        for code in codes:
            policy_model.objects.get_or_create(
                tenant=None,
                purpose=purposes[code],
                name=name,
                defaults={
                    "retention_months": months,
                    "maximum_months": maximum,
                    "action_at_expiry": action,
                    "legal_reference": reference,
                    "effective_from": date(2020, 1, 1),
                },
            )


def remove_presets(apps, schema_editor):
    apps.get_model("compliance", "RetentionPolicy").objects.filter(tenant=None).delete()
    apps.get_model("compliance", "Purpose").objects.filter(tenant=None).delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_purposes_policies_api_keys")]

    operations = [migrations.RunPython(create_presets, remove_presets)]
