"""A legal hold placed in Chromium keeps a recording out of the purge: alice (compliance officer)
places a hold naming one expired recording through the hold's add form (its recordings chosen in
the admin's autocomplete), then the purge preview and the dry run she starts count it as kept by
the hold, not to delete, and nothing is deleted.

Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import LegalHold
from recordings.models import Recording, Status

from ..browser import csp_violations, sign_in
from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)


def _preview_row(page) -> dict[str, str]:
    """The preview's one row (Acme, quality, retention ended), by its column headings."""
    table = page.locator("#purge-preview table")
    # As written, not as the stylesheet shows them (the admin's headings are in capitals).
    headings = [text.strip() for text in table.locator("thead th").all_text_contents()]
    [cells] = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    return dict(zip(headings, cells, strict=True))


def test_alice_places_a_hold_on_a_recording_and_the_purge_preview_keeps_it(cast, page):
    long_ago = timezone.now() - timedelta(days=400)
    held = ingest(cast.acme, call_id="dispute-2025-041", started_at=long_ago)
    ingest(cast.acme, call_id="routine-2025-042", started_at=long_ago, number="+33698765432")
    sign_in(page, "alice")

    page.goto("/admin/recordings/purgerun/")
    before = _preview_row(page)
    assert (before["To delete"], before["Kept by legal holds"]) == ("2", "0"), before

    page.goto("/admin/compliance/legalhold/add/")
    tenant = page.locator("#id_tenant")
    if tenant.count() and tenant.is_visible():
        tenant.select_option(label="Acme Insurance")
    page.fill("#id_reference", "Dispute 2025-041")
    page.fill("#id_reason", "The caller disputes the contract's terms before the court of Lyon")
    page.locator(".field-recordings .select2-selection").click()
    page.locator(".select2-search__field").fill("dispute-2025-041")
    page.locator(".select2-results__option", has_text="dispute-2025-041").click()
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/compliance/legalhold/")
    hold = LegalHold.objects.get(reference="Dispute 2025-041")
    assert list(hold.recordings.all()) == [held]

    page.goto("/admin/recordings/purgerun/")
    after = _preview_row(page)
    assert (after["To delete"], after["Kept by legal holds"]) == ("1", "1"), after

    page.get_by_role("button", name="Start a dry run").click()
    page.wait_for_url("**/admin/recordings/purgerun/*/change/")
    assert "Nothing was deleted" in page.locator(".messagelist").inner_text()
    found = _preview_row(page)
    assert (found["To delete"], found["Kept by legal holds"]) == ("1", "1"), found
    assert Recording.objects.filter(status=Status.ACTIVE).count() == 2
    assert csp_violations(page) == []
