"""The header's language switcher, in Chromium: alice chooses Spanish and reads a Spanish
dashboard (the admin's index), then French from the Spanish switcher; the choice follows her to
the next pages.

    CUSTODIA_SCREENSHOTS=1 .venv/bin/python -m pytest tests/portal/test_language_browser.py

takes the README's screenshot of the Spanish dashboard (docs/screenshots/dashboard-es.png).
Headless Debian Chromium driven by Playwright, on the session's browser (tests/conftest.py);
skipped with a reason where the chromium package is missing.
"""

from __future__ import annotations

import pytest

from ..browser import csp_violations, sign_in
from ..recordings.helpers import ingest
from .screenshots import readme_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

# The index's headings in each language (their catalogues' translations), and the switcher's
# button as that language names it.
HEADINGS = {
    "en": ["Open incidents", "Open data-subject requests", "Open alerts"],
    "es": [
        "Incidentes abiertos",
        "Solicitudes de ejercicio de derechos abiertas",
        "Alertas abiertas",
    ],
    "fr": [
        "Incidents ouverts",
        "Demandes d'exercice de droits ouvertes",
        "Alertes ouvertes",
    ],
}
BUTTON = {"en": "Change language", "es": "Cambiar de idioma", "fr": "Changer de langue"}


def _captions(page) -> list[str]:
    """The index's headings as written (the stylesheet shows them in capitals)."""
    return [text.strip() for text in page.locator("#content caption").all_text_contents()]


def _switch(page, *, from_language: str, to_language: str, option: str) -> None:
    page.select_option("#language-switcher-language", label=option)
    with page.expect_navigation():
        page.get_by_role("button", name=BUTTON[from_language]).click()
    assert page.locator("html").get_attribute("lang") == to_language


def test_alice_switches_the_dashboard_to_spanish_then_french_with_the_headers_switcher(cast, page):
    ingest(cast.acme)
    sign_in(page, "alice")
    assert page.locator("html").get_attribute("lang") == "en"
    assert set(HEADINGS["en"]) <= set(_captions(page))

    _switch(page, from_language="en", to_language="es", option="Español")
    page.wait_for_url("**/admin/")
    captions = _captions(page)
    assert set(HEADINGS["es"]) <= set(captions), captions
    assert not set(HEADINGS["en"]) & set(captions)
    assert page.locator("label[for=language-switcher-language]").text_content() == "Idioma"
    assert page.locator(".dashboard-board").count() == 1  # her board, still there
    readme_screenshot(page, "dashboard-es.png")
    # The choice follows her.
    page.goto("/admin/recordings/recording/")
    assert page.locator("html").get_attribute("lang") == "es"
    page.goto("/admin/")

    _switch(page, from_language="es", to_language="fr", option="Français")
    captions = _captions(page)
    assert set(HEADINGS["fr"]) <= set(captions), captions
    assert not set(HEADINGS["es"]) & set(captions)
    assert page.locator("label[for=language-switcher-language]").text_content() == "Langue"
    assert csp_violations(page) == []
