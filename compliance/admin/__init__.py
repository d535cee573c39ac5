"""The compliance app's admin pages, one module per concern. Django's admin autodiscovery imports
this package; importing each module registers its admins.

- accounts: tenants with their memberships, memberships, users and groups;
- policies: purposes and retention policies, with their history pages;
- api_keys: the tenants' API keys;
- consents: consent decisions, recorded and never edited;
- legal_holds: legal holds, placed and released (the release page);
- processors: processors and sub-processors, and the register of processing activities;
- risks: the risk analysis (risks, their measures, the shipped defaults adopted);
- dpia: data-protection impact assessments and their printable summaries;
- dnc: do-not-call lists (their versions, uploaded and imported by the worker) and internal
  opt-outs;
- campaigns: marketing campaigns, their numbers and their screenings by Bloctel and Lista
  Robinson;
- documents: what the pages generating a tenant's documents share.

Every admin inherits compliance/tenancy.py's PortalAdmin, TenantScopedAdmin or
TenantScopedHistoryAdmin, and writes through the services of compliance/services/.
"""

from . import (  # noqa: F401  (registration)
    accounts,
    api_keys,
    campaigns,
    consents,
    dnc,
    dpia,
    legal_holds,
    policies,
    processors,
    risks,
)
