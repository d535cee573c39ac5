"""Data-protection impact assessments (GDPR Art. 35): checked and saved, versioned by
django-simple-history with the actor named, and audited (the texts named, never copied)."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.context import names_its_actor
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.refusals import Refused

from ..date_window import date_window_error
from ..models import Dpia
from .policies import _history_user_set

DPIA_TEXTS = ("necessity", "proportionality", "dpo_opinion")


def dpia_check(*, dpia: Dpia) -> None:
    if dpia.purpose_id is None:
        raise Refused(_("Choose the purpose assessed."), field="purpose")
    if dpia.purpose.tenant_id not in (None, dpia.tenant_id):
        raise Refused(_("A purpose of another tenant."), field="purpose")
    if not (dpia.necessity or "").strip():
        raise Refused(_("Say why recording is necessary for this purpose."), field="necessity")
    for field in DPIA_TEXTS:
        refuse_longer_than(getattr(dpia, field), limits.DPIA_TEXT, field=field)
    if dpia.dpo_opinion.strip() and dpia.dpo_opinion_on is None:
        raise Refused(_("Give the date of the DPO's opinion."), field="dpo_opinion_on")
    if dpia.dpo_opinion_on is not None:
        error = date_window_error(dpia.dpo_opinion_on)
        if error is not None:
            raise Refused(
                format_lazy(gettext_lazy("dpo_opinion_on {error}"), error=error),
                field="dpo_opinion_on",
            )
    duplicate = Dpia.objects.filter(tenant_id=dpia.tenant_id, purpose_id=dpia.purpose_id)
    if duplicate.exclude(pk=dpia.pk).exists():
        raise Refused(_("This purpose has its DPIA already: change that one."), field="purpose")


@names_its_actor
@transaction.atomic
def dpia_save(*, actor, dpia: Dpia, created: bool) -> Dpia:
    """Create or change a DPIA: a new version in its history, naming `actor`; on the trail,
    which texts changed and the opinion's date."""
    dpia_check(dpia=dpia)
    old = None if created else Dpia.objects.select_for_update().get(pk=dpia.pk)
    _history_user_set(dpia, actor)
    dpia.save()
    changed = [
        field
        for field in (*DPIA_TEXTS, "dpo_name", "dpo_opinion_on", "purpose_id")
        if old is None or getattr(old, field) != getattr(dpia, field)
    ]
    event_record(
        action="dpia.created" if created else "dpia.changed",
        tenant=dpia.tenant_id,
        target=dpia,
        extra={
            "purpose": dpia.purpose.code,
            "changed": changed,
            "dpo_opinion_on": dpia.dpo_opinion_on,
            "version": dpia.history.count(),
        },
    )
    return dpia
