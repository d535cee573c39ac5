"""The main pages read in Spanish and in French with no English left: no text a person reads on
them is one of the catalogue's English messages (a label, a heading, a column, a status) that
was shown untranslated. The names, numbers, call ids and codes a page shows are data, the same in
every language, and never a message of the catalogue."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from html.parser import HTMLParser

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language_info

from audit.models import AuditEvent
from compliance.services.api_keys import api_key_create
from compliance.services.consents import consent_record
from compliance.services.legal_holds import legal_hold_place
from recordings.services.purge.run import purge_expired_recordings

from ..recordings.helpers import ingest
from .test_translations import TRANSLATED, catalogue

pytestmark = pytest.mark.django_db

# Shorter messages ("No", "Fin", "Non") are too often the same word, or a fragment, in every
# language to say that a page was left in English.
SHORTEST = 4
# Each language is offered by its own name in the header's switcher ("English" on a Spanish page).
OWN_NAMES = {get_language_info(code)["name_local"] for code, _name in settings.LANGUAGES}


@cache
def english_messages(language: str) -> frozenset[str]:
    """The catalogue's English messages that read otherwise in `language`, as a page may show
    them: as they are, and capitalised (the admin capitalises a column's lower-case name)."""
    messages = set()
    for entry in polib.pofile(str(catalogue(language))):
        if entry.obsolete or entry.msgid_plural or len(entry.msgid) < SHORTEST:
            continue
        if entry.msgstr and entry.msgstr != entry.msgid:
            messages |= {entry.msgid, capfirst(entry.msgid)} - {capfirst(entry.msgstr)}
    return frozenset(messages - OWN_NAMES)


class _TextNodes(HTMLParser):
    """Each piece of text a person reads, outside <script> and <style>, whitespace folded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._hidden:
            self.nodes.append(text)


def text_nodes(html: str) -> list[str]:
    reader = _TextNodes()
    reader.feed(html)
    reader.close()
    return reader.nodes


def english_left(html: str, language: str) -> list[str]:
    """The text nodes of a page that are an English message of the catalogue, as they are or
    followed by a colon (a form's label)."""
    messages = english_messages(language)
    return sorted(
        {node for node in text_nodes(html) if node in messages or node.rstrip(" :") in messages}
    )


def test_the_check_sees_an_english_message_and_lets_data_and_translations_pass():
    page = (
        "<html><head><title>Custodia</title><style>.x{}</style><script>var a='Legal holds';"
        "</script></head><body><h1>Legal holds</h1><p>Retenciones legales</p>"
        "<th>Call id</th><td>factory-1234</td><td>+33612345678</td><td>alice</td>"
        "<label>Purpose:</label><p>Legal holds are kept</p></body></html>"
    )
    assert english_left(page, "es") == ["Call id", "Legal holds", "Purpose:"]
    assert english_left("<p>Retenciones legales</p><p>Acme Insurance</p>", "es") == []
    assert english_left('<option value="en" lang="en">English</option>', "es") == []


@pytest.fixture
def world(cast):
    """A recording of each kind the pages list, a consent, a legal hold in force and a purge
    run, all in Acme."""
    recording = ingest(cast.acme, purpose="quality")
    consent_record(
        recorded_by="alice",
        tenant=cast.acme,
        customer_number="+33612345678",
        purpose_code="telemarketing",
        decision="withdrawn",
        decided_at=timezone.now() - timedelta(days=1),
        channel="web_form",
    )
    hold = legal_hold_place(
        actor=cast.alice, tenant=cast.acme, reference="RG 2", reason="Inquiry", campaign="New"
    )
    ingest(cast.acme, purpose="quality", started_at=timezone.now() - timedelta(days=400))
    run = purge_expired_recordings()
    return {"recording": recording, "hold": hold, "run": run}


def main_pages(world) -> dict[str, str]:
    recording = world["recording"]
    return {
        "dashboard": reverse("admin:index"),
        "recordings": reverse("admin:recordings_recording_changelist"),
        "recording": reverse("admin:recordings_recording_change", args=[recording.pk]),
        "listening form": reverse("recordings:listen", args=[recording.pk]),
        "audit list": reverse("admin:audit_auditevent_changelist"),
        "consents": reverse("admin:compliance_consent_changelist"),
        "legal holds": reverse("admin:compliance_legalhold_changelist"),
        "legal hold": reverse("admin:compliance_legalhold_change", args=[world["hold"].pk]),
        "purge runs": reverse("admin:recordings_purgerun_changelist"),
        "purge run": reverse("admin:recordings_purgerun_change", args=[world["run"].pk]),
    }


# Who reads which of them (the others answer 403, or send the person elsewhere).
READERS = {
    "alice": set(),  # a compliance officer reads every one
    "bob": {"consents", "legal holds", "legal hold", "purge runs", "purge run"},
    "dave": {"listening form"},
}


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("person", sorted(READERS))
def test_the_main_pages_leave_no_english_message_untranslated(
    cast, client, world, person, language
):
    client.force_login(getattr(cast, person))
    found, read = {}, []
    for name, url in main_pages(world).items():
        page = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        if name in READERS[person]:
            continue
        assert page.status_code == 200, (name, page.status_code)
        assert f'<html lang="{language}"' in page.content.decode()
        read.append(name)
        if english := english_left(page.content.decode(), language):
            found[name] = english
    assert "dashboard" in read and len(read) >= 4
    assert not found, f"English left on the {language} pages {person} reads: {found}"


def test_what_a_spanish_reader_does_is_kept_on_the_trail_in_english(cast, client, world):
    """The README's 'Languages': the trail reads in one language. A listening granted to a
    person reading Spanish names the call, and its purpose, in English on the trail; the page
    that lists it shows them in Spanish."""
    recording = world["recording"]
    client.force_login(cast.carol)
    granted = client.post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "quality", "justification": "Muestreo mensual del equipo de renovaciones"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert granted.status_code == 302
    event = AuditEvent.objects.filter(action="recording.access_granted").latest("sequence")
    assert event.target_label == f"call {recording.call_id}"
    assert event.extra["recording_purpose_name"] == "Quality monitoring"
    client.force_login(cast.alice)
    listing = client.get(
        reverse("admin:audit_auditevent_changelist"), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Escucha concedida para una finalidad declarada" in listing
    assert f'llamada <span class="call-id">{recording.call_id}</span>' in listing


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("es", "finalidad desconocida o inactiva 'cold_calls'"),
        ("fr", "finalité inconnue ou inactive 'cold_calls'"),
    ],
)
def test_an_api_refusal_quoting_a_value_reads_in_the_caller_s_language_and_in_english_on_the_trail(
    cast, client, language, error
):
    token = api_key_create(actor=cast.alice, tenant=cast.acme, name="Acme IVR")[1]
    answer = client.post(
        "/api/v1/consents",
        json.dumps(
            {
                "customer_number": "06 44 44 44 44",
                "purpose": "cold_calls",
                "decision": "granted",
                "decided_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
                "channel": "ivr",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": error, "field": "purpose"}
    refused = AuditEvent.objects.get(action="consent.refused")
    assert refused.extra["reason"] == "unknown or inactive purpose 'cold_calls'"


def test_a_listening_refused_reads_in_spanish_and_in_english_on_the_trail(cast, client, world):
    """The refusal's sentence is the reader's language on the page, English on the trail."""
    recording = world["recording"]
    client.force_login(cast.dave)  # an auditor reads the trail; he does not listen
    refused = client.get(
        reverse("recordings:listen", args=[recording.pk]), HTTP_ACCEPT_LANGUAGE="es"
    )
    assert refused.status_code == 403
    assert "No puede escuchar grabaciones en esta organización." in refused.content.decode()
    event = AuditEvent.objects.filter(action="recording.access_denied").latest("sequence")
    assert event.extra["message"] == "You are not allowed to listen to recordings in this tenant."


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("es", "no puede crear campañas para Acme Insurance"),
        ("fr", "vous ne pouvez pas créer de campagnes pour Acme Insurance"),
    ],
)
def test_a_refusal_naming_what_was_refused_reads_whole_in_the_reader_s_language(
    cast, language, sentence
):
    """What the person may not do is part of the sentence, not an English fragment in it."""
    from django.utils import translation

    from compliance.models import Purpose
    from compliance.services.campaigns import campaign_create
    from kit.refusals import Refused

    with pytest.raises(Refused) as refused:
        campaign_create(
            actor=cast.dave,
            tenant=cast.acme,
            name="Spring offers",
            purpose=Purpose.objects.filter(tenant=None).first(),
            legal_basis="consent",
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate() + timedelta(days=30),
        )
    with translation.override(language):
        assert str(refused.value.message) == sentence


@pytest.mark.parametrize(
    ("language", "shown"),
    [("en", "the file is larger than 65,536 bytes"), ("es", "65.536"), ("fr", "65\u202f536")],
)
def test_a_count_in_a_refusal_is_grouped_the_reader_s_way_and_the_trail_s_in_english(
    language, shown
):
    from django.utils import translation
    from django.utils.text import format_lazy
    from django.utils.translation import gettext_lazy

    from kit.refusals import Refused, grouped

    refusal = Refused(
        format_lazy(
            gettext_lazy("the file is larger than {file_max_bytes} bytes"),
            file_max_bytes=grouped(65536),
        ),
        field="file",
    )
    with translation.override(language):
        assert shown in str(refusal.message)
        assert refusal.for_trail == "the file is larger than 65,536 bytes"
