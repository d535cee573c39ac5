"""Labels the browser journeys found in English on Spanish pages (tests/portal/
test_language_browser.py, tests/audit/test_access_review_browser.py): the dashboard's heading
and the listening purposes are looked up in the reader's catalogue, on the index, the listen form
and the trail. Each is given a Spanish translation here, so that the test holds whatever the
committed catalogue has translated yet."""

from __future__ import annotations

import pytest
from django.utils.translation import trans_real

from ..recordings.helpers import ingest

pytestmark = pytest.mark.django_db

SPANISH = {
    "Call recordings compliance": "Cumplimiento de las grabaciones de llamadas",
    "Quality review": "Revisión de calidad",
    "Agent training": "Formación de agentes",
}


@pytest.fixture
def spanish():
    """The Spanish catalogue with SPANISH in it, as it was afterwards."""
    catalogue = trans_real.translation("es")._catalog._catalogs[0]
    before = {msgid: catalogue[msgid] for msgid in SPANISH if msgid in catalogue}
    catalogue.update(SPANISH)
    yield
    for msgid in SPANISH:
        catalogue.pop(msgid, None)
    catalogue.update(before)


def test_the_dashboards_heading_is_in_the_readers_language(cast, login, spanish):
    html = login(cast.alice).get("/admin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Cumplimiento de las grabaciones de llamadas" in html
    assert "Call recordings compliance" not in html


def test_the_listening_purposes_are_in_the_readers_language_on_the_form_and_the_trail(
    cast, client, spanish
):
    recording = ingest(cast.acme)
    client.force_login(cast.carol)
    form = client.get(f"/recordings/{recording.pk}/listen/", HTTP_ACCEPT_LANGUAGE="es")
    html = form.content.decode()
    assert "Revisión de calidad" in html and "Formación de agentes" in html
    assert "Quality review" not in html
    granted = client.post(
        f"/recordings/{recording.pk}/listen/",
        {"purpose": "quality", "justification": "Monthly quality sample, week 48"},
    )
    assert granted.status_code == 302

    client.force_login(cast.bob)
    trail = client.get(
        f"/admin/audit/auditevent/?target=recordings.recording:{recording.pk}",
        HTTP_ACCEPT_LANGUAGE="es",
    ).content.decode()
    assert "Revisión de calidad" in trail
    assert "Quality review" not in trail
