"""Issue 15's "done when", as alice (Acme's compliance officer) lives it in Chromium on the demo
data of a fresh `make run` (`manage.py seed_demo`): the expired processor agreement is flagged on
her admin index, and Acme's Art. 30 register and its risk analysis are one click each from there.
The register lists Acme's purposes and processors (none of Globex's), the three-level processor
chain and the one transfer outside the EEA under standard contractual clauses; the risk analysis
shows each risk with its measures.

Headless Debian Chromium driven by Playwright, as tests/portal/test_browser.py; skipped with a
reason where the chromium package is missing.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from compliance.models import Processor, Purpose, Tenant
from compliance.risk_defaults import DEFAULT_RISKS

from ..browser import sign_in as _sign_in
from ..factories import PurposeFactory, processor_for
from .screenshots import WINDOW, readme_screenshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(90),  # a journey stuck on a page fails, with the rest still run
]

# What `make run` seeds for Acme (recordings/management/commands/seed_demo.py).
PLATFORM = "Contact centre (Custodia)"
STORAGE = "Nimbus Object Storage SAS"
BACKUP = "Skyvault Backup Inc."
EXPIRED = "Transcribo Speech Analytics GmbH"
ACME_PURPOSES = [
    "Agent training",
    "Investment services (MiFID II)",
    "Performance supervision",
    "Quality monitoring",
    "Telemarketing",
]


def test_alice_finds_the_expired_agreement_then_the_register_and_the_risk_analysis(page):
    page.set_default_timeout(15_000)
    page.set_viewport_size(WINDOW)
    call_command("seed_demo", verbosity=0)
    acme = Tenant.objects.get(slug="acme")
    globex = Tenant.objects.get(slug="globex")
    # Globex's own processing, which Acme's register must not show.
    PurposeFactory(tenant=globex, code="churn", name="Globex churn prevention")
    processor_for(tenant=globex, name="Globex Call Analytics SL")

    _sign_in(page, "alice")
    # The expired agreement, flagged on her index.
    flagged = page.locator(".open-alerts-and-incidents .module", has_text="Processor agreements")
    expired = Processor.objects.get(tenant=acme, name=EXPIRED)
    row = flagged.locator("tr", has_text=EXPIRED).inner_text()
    assert "Agreement expired" in row and expired.agreement_expires_on.isoformat() in row, row
    assert expired.agreement_expires_on < acme.today()

    # One click: the Art. 30 register.
    page.get_by_role("link", name="Art. 30 register").click()
    page.wait_for_url(f"**/admin/compliance/processor/register/{acme.pk}/")
    document = page.locator(".document")
    assert "Register of processing activities" in document.locator("h1").inner_text()
    assert "Acme Insurance (FR)" in document.locator(".document-meta").inner_text()
    activities = document.locator(".register-activities tbody th").all_inner_texts()
    assert sorted(activities) == ACME_PURPOSES
    assert set(activities) <= set(Purpose.objects.values_list("name", flat=True))
    processors = document.locator(".register-processors tbody th").all_inner_texts()
    assert sorted(processors) == sorted([PLATFORM, STORAGE, BACKUP, EXPIRED])
    text = document.inner_text()
    assert "Globex" not in text

    # The chain of three levels: the platform, its storage, the storage's backup.
    depth = {
        name: document.locator(".register-processors tbody th", has_text=name).get_attribute(
            "class"
        )
        for name in (PLATFORM, STORAGE, BACKUP)
    }
    assert depth == {PLATFORM: "chain-depth-0", STORAGE: "chain-depth-1", BACKUP: "chain-depth-2"}
    backup = document.locator(".register-processors tbody tr", has_text=BACKUP)
    cells = backup.locator("td").all_inner_texts()
    assert cells[0] == f"Sub-processor of {STORAGE} ← {PLATFORM}"
    # The one transfer outside the EEA, under standard contractual clauses with their date.
    signed = Processor.objects.get(tenant=acme, name=BACKUP).scc_signed_on.isoformat()
    assert "US" in cells and "No" in cells
    assert f"Standard contractual clauses (Art. 46(2)(c)), signed on {signed}" in cells[5]
    inside = document.locator(".register-processors tbody tr", has_text=STORAGE)
    assert "Yes" in inside.locator("td").all_inner_texts()
    transfers = document.locator(".register-activities tbody tr", has_text="Quality monitoring")
    assert re.search(rf"{BACKUP} \(US\): Standard contractual clauses", transfers.inner_text())
    readme_screenshot(page, "register.png")

    # One click from the index: the risk analysis, each risk with its measures.
    page.goto("/admin/")
    page.get_by_role("link", name="Risk analysis").click()
    page.wait_for_url(f"**/admin/compliance/risk/analysis/{acme.pk}/")
    analysis = page.locator(".document")
    threats = analysis.locator("h2").all_inner_texts()
    assert sorted(threats) == sorted(risk.threat for risk in DEFAULT_RISKS)
    text = analysis.inner_text()
    for risk in DEFAULT_RISKS:
        for measure in risk.measures:
            assert measure.action in text, (risk.threat, measure.action)
    listening = analysis.locator("h2", has_text="Unauthorised listening to recordings")
    level = listening.locator("xpath=following-sibling::table[1]").inner_text()
    assert re.search(r"Level\s+Critical", level) and re.search(r"Residual level\s+Moderate", level)
