"""Reminders of data-subject requests' deadlines: every day, the handler of each open request due
within a week, or overdue, is e-mailed once (GDPR Art. 12(3): the answer is due one month after
receipt, extendable by two more months only if the requester is told why within the first).

Who: the request's handler, while they still hold a role in the tenant that may handle it and
have an address; otherwise (nobody took it yet, or the handler left) the tenant's compliance
officers (audit/notifications.py::compliance_officers).

Once a day per request, in the tenant's days: the `subject_request.deadline_reminded` event, which
the trail needs anyway, is also the memory. Its `extra["day"]` is the tenant's date when it was
sent, and a reminder is sent only when no such event exists for that request and day. The lookup
reads the request's few events through the trail's (target_type, target_id) index; the request
row is locked first, so two runs at once (the beat's and a redelivered one) send one e-mail. A
field on the request would be a second record of the same fact, which could disagree with the
trail, and a schema change to the request for a reminder's sake. The mail is sent inside the
transaction that writes the event: a failed send rolls the event back and the task retries (a
commit that fails after the mail left sends it again: at least once, like the incident
reminders).

The e-mail names the request by kind and number and links to it; it holds none of the subject's
data (no number, no name), since mail leaves the portal. Dates are the tenant's, zone named.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent
from audit.notifications import compliance_officers
from audit.services import event_record
from kit.mail import mail_in_their_languages
from kit.times import in_tenant_zone

from ..roles import tenant_permits
from ..subject_request_models import OPEN_STATUSES, SubjectRequest
from .subject_requests import subject_requests_nearly_due

# A week's notice: time to extend (within the first month) or to finish the answer.
REMIND_WITHIN_DAYS = 7
REMINDED = "subject_request.deadline_reminded"


def _reminded_on(request: SubjectRequest, day) -> bool:
    return AuditEvent.objects.filter(
        target_type=SubjectRequest._meta.label_lower,
        target_id=str(request.pk),
        action=REMINDED,
        extra__day=day.isoformat(),
    ).exists()


def subject_requests_due_for_reminder(
    *, within_days: int = REMIND_WITHIN_DAYS
) -> list[tuple[SubjectRequest, int]]:
    """Open requests due within `within_days` days or overdue, whose handlers have not been
    reminded today (the tenant's day): (request, days left) pairs, overdue ones negative."""
    return [
        (request, left)
        for request, left in subject_requests_nearly_due(within_days=within_days)
        if not _reminded_on(request, request.tenant.today())
    ]


def _recipients(request: SubjectRequest) -> tuple[list, str]:
    handler = request.handled_by
    if (
        handler is not None
        and handler.email
        and tenant_permits(handler, request.tenant_id, "compliance.change_subjectrequest")
    ):
        return [handler], "handler"
    return compliance_officers(request.tenant_id), "compliance_officers"


def _when(left: int) -> str:
    if left < 0:
        return ngettext("overdue by %(days)d day", "overdue by %(days)d days", -left) % {
            "days": -left
        }
    if left == 0:
        return _("due today")
    return ngettext("due in %(days)d day", "due in %(days)d days", left) % {"days": left}


def _admin_url(request: SubjectRequest) -> str:
    return (
        settings.PORTAL_BASE_URL.rstrip("/")
        + f"/admin/compliance/subjectrequest/{request.pk}/change/"
    )


def _message(request: SubjectRequest, left: int, to: str) -> tuple[str, str]:
    tenant = request.tenant
    # In the language active while it is composed: each recipient's (kit/mail.py).
    label = _("%(kind)s request no. %(number)s") % {
        "kind": request.get_kind_display(),
        "number": request.pk,
    }
    when = _when(left)
    lines = [
        _("The data-subject request %(label)s for %(tenant)s is %(when)s.")
        % {"label": label, "tenant": tenant.name, "when": when},
        "",
        _("Due on: %(day)s (%(tenant)s's day, %(zone)s)")
        % {"day": request.deadline.isoformat(), "tenant": tenant.name, "zone": tenant.time_zone},
    ]
    if request.extended_months:
        lines.append(
            "  "
            + ngettext(
                "extended by %(months)d month; first due on %(day)s",
                "extended by %(months)d months; first due on %(day)s",
                request.extended_months,
            )
            % {"months": request.extended_months, "day": request.due_on.isoformat()}
        )
    lines += [
        _("Received: %(when)s (%(channel)s)")
        % {
            "when": in_tenant_zone(request.received_at, tenant),
            "channel": request.get_channel_display(),
        },
        _("Status: %(status)s") % {"status": request.get_status_display()},
    ]
    if to == "handler":
        lines.append(
            _("Handled by: %(username)s (you)") % {"username": request.handled_by.get_username()}
        )
    else:
        lines.append(
            _(
                "Handled by: nobody who can still handle it: you receive this as a compliance "
                "officer of %(tenant)s."
            )
            % {"tenant": tenant.name}
        )
    lines += ["", _("GDPR Art. 12(3): the answer is due within one month of receipt.")]
    if left < 0:
        lines.append(_("It is late: answer now, and say why it is late."))
    elif not request.extended_months and tenant.today() <= request.due_on:
        lines.append(
            _(
                "It may be extended by up to two months where the request is complex, only if "
                "the requester is told why by %(day)s."
            )
            % {"day": request.due_on.isoformat()}
        )
    lines += ["", _("Open it: %(url)s") % {"url": _admin_url(request)}]
    subject = "[Custodia] " + _("Data-subject request no. %(number)s %(when)s (%(tenant)s)") % {
        "number": request.pk,
        "when": when,
        "tenant": tenant.name,
    }
    return subject[:200], "\n".join(lines)


@transaction.atomic
def subject_request_deadline_remind(request_id: int) -> dict:
    """Remind one request's handler (or the tenant's compliance officers) of its deadline, once
    per day of the tenant; the reminder is an event. A send failure raises (the task retries)."""
    request = (
        SubjectRequest.objects.select_for_update(of=("self",))
        .select_related("tenant", "handled_by")
        .filter(pk=request_id, status__in=OPEN_STATUSES)
        .first()
    )
    if request is None:
        return {"request": request_id, "sent": 0}
    today = request.tenant.today()
    left = (request.deadline - today).days
    if left > REMIND_WITHIN_DAYS or _reminded_on(request, today):
        return {"request": request_id, "sent": 0}
    recipients, to = _recipients(request)
    # Each recipient's copy in the language they chose (kit/mail.py).
    sent = mail_in_their_languages(recipients, lambda: _message(request, left, to))
    event_record(
        action=REMINDED,
        tenant=request.tenant_id,
        target=request,
        extra={
            "day": today.isoformat(),
            "deadline": request.deadline.isoformat(),
            "days_left": left,
            "to": to,
            "recipients": [user.get_username() for user in recipients],
        },
    )
    return {"request": request_id, "sent": sent}
