"""Processors and sub-processors (GDPR Art. 28): checked, saved with their old and new values on
the trail, the platform's row ensured for every tenant, and the agreements that need attention
found and mailed to the compliance officers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from phonenumbers import SUPPORTED_REGIONS

from audit.context import names_its_actor
from audit.notifications import compliance_officers
from audit.services import event_record
from kit import limits
from kit.limits import refuse_longer_than
from kit.mail import mail_in_their_languages
from kit.refusals import Refused

from ..date_window import date_window_error
from ..models import Processor, Purpose, Tenant
from ..processor_models import (
    EEA_COUNTRIES,
    ProcessorFlag,
    TransferSafeguard,
    flagged_processors_q,
)
from .policies import _history_user_set

# The latest date an agreement's expiry or review may be set to: a typo (20255) is not a plan.
LATEST_PLANNED = date(2100, 12, 31)

PROCESSOR_FIELDS = (
    "name",
    "parent_id",
    "country",
    "transfer_safeguard",
    "scc_signed_on",
    "safeguard_reference",
    "agreement_signed_on",
    "agreement_expires_on",
    "review_due_on",
    "security_contact",
    "status",
)


def _refuse_chain(processor: Processor) -> None:
    """A sub-processor works for a processor of the same tenant, and no processor is, through
    the chain, its own sub-processor."""
    parent = processor.parent
    if parent is None:
        return
    if processor.is_platform:
        raise Refused(_("The platform is the first processor: it has no parent."), field="parent")
    if parent.tenant_id != processor.tenant_id:
        raise Refused(
            _("This processor belongs to another tenant: a chain stays within one controller."),
            field="parent",
        )
    seen = set()
    current = parent
    while current is not None:
        if processor.pk is not None and current.pk == processor.pk:
            raise Refused(
                _("This would make a cycle: %(name)s would work for itself through the chain.")
                % {"name": processor.name},
                field="parent",
            )
        if current.pk in seen:  # an older cycle above: refuse rather than loop
            raise Refused(_("The chain above this processor loops."), field="parent")
        seen.add(current.pk)
        current = current.parent


def _refuse_transfer(processor: Processor) -> None:
    """GDPR Art. 44 to 47: data leaves the EEA only under a safeguard (an adequacy decision,
    standard contractual clauses, binding corporate rules)."""
    country = processor.country
    # libphonenumber's regions: every ISO 3166-1 country with a telephone numbering plan.
    if not re.fullmatch(r"[A-Z]{2}", country or "") or country not in SUPPORTED_REGIONS:
        raise Refused(
            _("Use an ISO 3166-1 alpha-2 country code, such as FR or US."), field="country"
        )
    if country in EEA_COUNTRIES:
        if processor.transfer_safeguard:
            raise Refused(
                _("A processor inside the EEA makes no transfer: leave the safeguard empty."),
                field="transfer_safeguard",
            )
        return
    if processor.transfer_safeguard not in TransferSafeguard.values:
        raise Refused(_("Choose a safeguard from the list."), field="transfer_safeguard")
    if not processor.transfer_safeguard:
        raise Refused(
            _(
                "%(country)s is outside the EEA: a transfer there needs a safeguard (an adequacy "
                "decision, standard contractual clauses or binding corporate rules)."
            )
            % {"country": country},
            field="transfer_safeguard",
        )
    if processor.transfer_safeguard == TransferSafeguard.SCC and processor.scc_signed_on is None:
        raise Refused(
            _("Give the date the standard contractual clauses were signed."),
            field="scc_signed_on",
        )


def _refuse_dates(processor: Processor) -> None:
    for field in ("scc_signed_on", "agreement_signed_on"):
        value = getattr(processor, field)
        error = None if value is None else date_window_error(value)
        if error is not None:
            raise Refused(
                format_lazy(gettext_lazy("{field} {error}"), field=field, error=error), field=field
            )
    for field in ("agreement_expires_on", "review_due_on"):
        value = getattr(processor, field)
        if value is not None and not date(2000, 1, 1) <= value <= LATEST_PLANNED:
            raise Refused(
                _("Give a date between 2000-01-01 and %(latest)s.") % {"latest": LATEST_PLANNED},
                field=field,
            )
    signed, expires = processor.agreement_signed_on, processor.agreement_expires_on
    if signed is not None and expires is not None and expires < signed:
        raise Refused(
            _("The agreement cannot expire (%(expires)s) before it is signed (%(signed)s).")
            % {"expires": expires, "signed": signed},
            field="agreement_expires_on",
        )
    if expires is not None and signed is None:
        raise Refused(
            _("An agreement that expires was signed: give its date."), field="agreement_signed_on"
        )


def processor_check(*, processor: Processor, purposes: Iterable[Purpose] = ()) -> None:
    """Every rule on one processor, as a Refused naming the field (the admin's form calls it)."""
    if not (processor.name or "").strip():
        raise Refused(_("A processor needs a name."), field="name")
    refuse_longer_than(processor.services, limits.PROCESSOR_TEXT, field="services")
    _refuse_chain(processor)
    _refuse_transfer(processor)
    _refuse_dates(processor)
    for purpose in purposes:
        if purpose.tenant_id not in (None, processor.tenant_id):
            raise Refused(_("A purpose of another tenant."), field="purposes")


# Fields naming a person (who to call about a breach: a name, a phone number, an e-mail
# address): the trail, append-only and out of an erasure's reach, says whether each is given and
# that it changed, never its value (the processor's history keeps the versions).
PERSONAL_FIELDS = frozenset({"security_contact"})


def _values(processor: Processor, purpose_ids: list[int]) -> dict:
    values = {name: getattr(processor, name) for name in PROCESSOR_FIELDS}
    return {**values, "purpose_ids": sorted(purpose_ids)}


def _on_the_trail(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {
        name: bool(value) if name in PERSONAL_FIELDS else value for name, value in values.items()
    }


@names_its_actor
@transaction.atomic
def processor_save(
    *, actor, processor: Processor, purposes: Iterable[Purpose], created: bool
) -> Processor:
    """Create or change a processor, audited with old and new values (free text excepted, and
    the security contact, a person: named, not copied), `actor` named in its history."""
    purposes = list(purposes)
    processor_check(processor=processor, purposes=purposes)
    old = None
    if not created:
        stored = Processor.objects.select_for_update().get(pk=processor.pk)
        old = _values(stored, list(stored.purposes.values_list("pk", flat=True)))
    _history_user_set(processor, actor)
    processor.save()
    processor.purposes.set(purposes)
    new = _values(processor, [purpose.pk for purpose in purposes])
    extra = {"old": _on_the_trail(old), "new": _on_the_trail(new)}
    if old is not None:
        extra["changed"] = [name for name in new if old[name] != new[name]]
    event_record(
        action="processor.created" if created else "processor.changed",
        tenant=processor.tenant_id,
        target=processor,
        extra=extra,
    )
    return processor


@transaction.atomic
def platform_processor_ensure(tenant: Tenant) -> Processor:
    """The tenant's row for the platform, its first processor, created once."""
    processor = Processor.objects.filter(tenant=tenant, is_platform=True).first()
    if processor is not None:
        return processor
    processor = Processor.objects.create(
        tenant=tenant,
        is_platform=True,
        name=settings.PLATFORM_OPERATOR_NAME,
        country=settings.PLATFORM_OPERATOR_COUNTRY,
        services="Call recording, encrypted storage, purpose-bound listening, retention and "
        "deletion of recordings (Custodia)",
    )
    event_record(
        action="processor.created",
        tenant=tenant.pk,
        target=processor,
        extra={"platform": True},
    )
    return processor


def processors_flagged(queryset, *, today: date | None = None) -> list[tuple[Processor, list]]:
    """The processors of `queryset` needing attention, each with its flags (`Processor.flags`,
    on its tenant's date unless `today` is given), the most urgent agreements first."""
    # A first cut on the latest date anywhere (a day ahead of the server's); then each
    # tenant's own date decides.
    cut = today or timezone.localdate() + timedelta(days=1)
    found = []
    rows = queryset.filter(flagged_processors_q(cut)).select_related("tenant", "parent")
    for processor in rows:
        flags = processor.flags(today or processor.tenant.today())
        if flags:
            found.append((processor, flags))
    order = list(ProcessorFlag.values)
    found.sort(key=lambda item: (order.index(item[1][0]), item[0].tenant.name, item[0].name))
    return found


def flags_label(flags: list) -> str:
    return "; ".join(str(ProcessorFlag(flag).label) for flag in flags)


def _admin_url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


@transaction.atomic
def processor_reminders_send(tenant_id: int) -> dict:
    """Mail one tenant's compliance officers the processors whose agreement needs attention
    (expired, missing, review due within 30 days or past); the sending is an event. A send
    failure raises, for the task to retry."""
    tenant = Tenant.objects.get(pk=tenant_id)
    flagged = processors_flagged(Processor.objects.filter(tenant=tenant))
    recipients = compliance_officers(tenant.pk)
    if not flagged or not recipients:
        return {"tenant": tenant_id, "processors": len(flagged), "sent": 0}

    def compose() -> tuple[str, str]:
        lines = [
            _(
                "Processors of %(tenant)s whose data processing agreement needs attention "
                "(GDPR Art. 28(3)):"
            )
            % {"tenant": tenant.name},
            "",
        ]
        for processor, flags in flagged:
            dates = _("signed %(signed)s, expires %(expires)s, review due %(review)s") % {
                "signed": processor.agreement_signed_on or "—",
                "expires": processor.agreement_expires_on or "—",
                "review": processor.review_due_on or "—",
            }
            lines.append(f"- {processor.name} ({processor.role_label()}): {flags_label(flags)}")
            lines.append(f"  {dates}")
            lines.append(f"  {_admin_url(f'/admin/compliance/processor/{processor.pk}/change/')}")
        subject = "[Custodia] " + ngettext(
            "%(count)d processor agreement to review for %(tenant)s",
            "%(count)d processor agreements to review for %(tenant)s",
            len(flagged),
        ) % {"count": len(flagged), "tenant": tenant.name}
        return subject[:200], "\n".join(lines)

    # Each recipient's copy in the language they chose (kit/mail.py).
    sent = mail_in_their_languages(recipients, compose)
    event_record(
        action="processor.agreements_reminded",
        tenant=tenant.pk,
        extra={
            "processors": [processor.pk for processor, _ in flagged],
            "recipients": [user.get_username() for user in recipients],
        },
    )
    return {"tenant": tenant_id, "processors": len(flagged), "sent": sent}
