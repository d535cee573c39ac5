"""What the campaign commands share: the campaign named by its tenant's slug and its name."""

from __future__ import annotations

from django.core.management.base import CommandError

from ...dnc_models import Campaign


def add_campaign_arguments(parser) -> None:
    parser.add_argument("--tenant", required=True, help="the tenant's slug")
    parser.add_argument("--campaign", required=True, help="the campaign's name")


def campaign_named(tenant: str, name: str) -> Campaign:
    campaign = (
        Campaign.objects.select_related("tenant").filter(tenant__slug=tenant, name=name).first()
    )
    if campaign is None:
        raise CommandError(f"no campaign {name!r} at tenant {tenant!r}")
    return campaign
