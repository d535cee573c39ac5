"""A purpose whose legal basis is consent requires the caller's consent (GDPR Art. 6(1)(a)): a
CheckConstraint. The shipped purposes already comply (0004: telemarketing). A tenant's own
purpose that does not was recording calls without asking for consent at ingestion: before the
constraint is added, it is made to require consent (the lawful way to go on resting on consent),
and its history says so."""

from django.db import migrations, models
from django.utils import timezone

CHANGE_REASON = "Legal basis is consent: now requires consent (migration 0010)"


def require_consent_where_it_is_the_basis(apps, schema_editor):
    purpose_model = apps.get_model("compliance", "Purpose")
    history_model = apps.get_model("compliance", "HistoricalPurpose")
    fields = [field.attname for field in purpose_model._meta.concrete_fields]
    for purpose in purpose_model.objects.filter(legal_basis="consent", requires_consent=False):
        purpose.requires_consent = True
        purpose.save(update_fields=["requires_consent"])
        history_model.objects.create(
            **{name: getattr(purpose, name) for name in fields},
            history_date=timezone.now(),
            history_type="~",
            history_change_reason=CHANGE_REASON,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0009_role_groups_from_memberships"),
    ]

    operations = [
        migrations.RunPython(require_consent_where_it_is_the_basis, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="purpose",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("legal_basis", "consent"), _negated=True),
                    ("requires_consent", True),
                    _connector="OR",
                ),
                name="purpose_consent_basis_requires_consent",
                violation_error_message=(
                    "A purpose whose legal basis is consent must require the caller's consent "
                    "before the call is recorded."
                ),
            ),
        ),
    ]
