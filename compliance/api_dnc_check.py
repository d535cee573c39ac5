"""GET /api/v1/dnc/check?number=...&campaign=<id>: may the dialer call this number for this
campaign now?

`number` is E.164 or a national number of the tenant's country; `campaign` the campaign's id (a
campaign of another tenant is a 404, as one that does not exist). The answer:

    {"number": "+33612345678", "callable": false, "reasons": ["bloctel"],
     "reason_labels": {"bloctel": "Listed on Bloctel (France)"},
     "checked_against": {"bloctel": {"screening": 12, "reference": "screening of 3 November 2026",
                                     "dated": "...+01:00", "stale_since": "...+01:00",
                                     "fresh": true}, ...},
     "stale": ["Bloctel: the last screening (...) is older than 30 days; stale since ..."]}

The decision is compliance/dnc_screening.py's; this view reads the request and shapes the
answer. Each check is counted for the audit trail (compliance/dnc_check_counts.py: one
`dnc.checked` event per tenant, campaign and API key a minute, not one per number); a refused
check is counted with its outcome `refused:<field>`.

Two queries per check, each prepared once per connection: the key and its rate limit
(compliance.api_auth), and the campaign with its sources' state (the versions in force, its
latest screenings) and the number's facts (`campaign_check_one`). Nothing is cached between
requests: a list version put in force or a screening answered applies to the very next check.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from kit.refusals import Refused

from .api import tenant_time
from .api_auth import api_error, api_key_required
from .dnc_check_counts import dnc_check_count
from .dnc_freshness import SourceState
from .dnc_models import Campaign
from .dnc_numbers import as_e164, number_reader
from .dnc_screening import campaign_check_one, reason_label
from .dnc_sources import Delivery, rule_for
from .phone import InvalidNumber


def campaign_id_of(request: HttpRequest) -> int:
    """The `campaign` parameter: a campaign's id; Refused naming `campaign` when missing or
    malformed."""
    raw = request.GET.get("campaign", "").strip()
    if not raw:
        raise Refused(gettext("campaign is required (the campaign's id)"), field="campaign")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Refused(gettext("campaign must be a campaign's id (a number)"), field="campaign")
    return int(raw)


def _no_such_campaign() -> Refused:
    return Refused(gettext("no such campaign"), field="campaign", status=404)


def campaign_of(request: HttpRequest) -> Campaign:
    """The campaign named by the `campaign` parameter, of the key's tenant; Refused naming
    `campaign` (400 for a missing or malformed id, 404 for one of no campaign of the tenant)."""
    campaign = Campaign.objects.filter(pk=campaign_id_of(request), tenant=request.tenant).first()
    if campaign is None:
        raise _no_such_campaign()
    campaign.tenant = request.tenant
    return campaign


def _number(request: HttpRequest) -> int:
    raw = request.GET.get("number", "")
    if not raw.strip():
        raise Refused(gettext("number is required"), field="number")
    try:
        return int(number_reader(request.tenant.country_code).digits(raw[:64].strip().encode()))
    except (InvalidNumber, UnicodeError) as error:
        raise Refused(
            gettext("number is not a valid phone number: %(reason)s") % {"reason": error},
            field="number",
        ) from error


def source_body(request: HttpRequest, state: SourceState) -> dict[str, object]:
    tenant = request.tenant
    body: dict[str, object] = {}
    if rule_for(state.source).delivery == Delivery.FULL_LIST:
        body["version"] = state.version or None
    else:
        body["screening"] = state.screening_id
    body.update(
        {
            "reference": state.reference,
            "dated": tenant_time(tenant, state.dated) if state.dated else None,
            "stale_since": tenant_time(tenant, state.stale_since) if state.stale_since else None,
            "fresh": state.fresh,
        }
    )
    return body


@api_key_required
def dnc_check(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        response = api_error(gettext("only GET is allowed here"), field="method", status=405)
        response["Allow"] = "GET"
        return response
    try:
        # The number first: a request refused for it is counted without a campaign (one of
        # another tenant's, named here, must not appear on this tenant's trail).
        number = _number(request)
        asked = campaign_id_of(request)
        checked = campaign_check_one(tenant=request.tenant, campaign_id=asked, number=number)
        if checked is None:
            raise _no_such_campaign()
    except Refused as refusal:
        dnc_check_count(
            tenant_id=request.tenant.pk,
            campaign_id=None,
            api_key=request.api_key.prefix,
            outcome=f"refused:{refusal.field}",
        )
        return api_error(refusal.message, field=refusal.field, status=refusal.status)
    check, verdict = checked
    campaign = check.campaign
    dnc_check_count(
        tenant_id=request.tenant.pk,
        campaign_id=campaign.pk,
        api_key=request.api_key.prefix,
        outcome="callable" if verdict.callable else "not_callable",
        reasons=verdict.reasons,
    )
    return JsonResponse(
        {
            "number": as_e164(number),
            "callable": verdict.callable,
            "reasons": list(verdict.reasons),
            "reason_labels": {reason: reason_label(reason) for reason in verdict.reasons},
            "checked_against": {
                source: source_body(request, check.states[source]) for source in verdict.sources
            },
            "stale": check.stale_messages(verdict.sources),
        }
    )
