"""Content-Security-Policy: the admin's and the player's own scripts, styles and audio, nothing
inline, nothing from elsewhere, never framed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.compliance.test_consent_receipts import _record
from tests.recordings.test_listening import JUSTIFICATION, _ingest

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def _assert_strict(directives: dict[str, list[str]]) -> None:
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["media-src"] == ["'self'", "blob:"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in directives.values() for value in values)


def test_admin_pages_carry_the_policy(cast, login):
    response = login(cast.alice).get("/admin/recordings/recording/")
    assert response.status_code == 200
    _assert_strict(_directives(response))


def test_the_sign_in_page_carries_the_policy(client):
    _assert_strict(_directives(client.get("/admin/login/")))


def test_the_player_carries_the_policy_and_needs_nothing_inline(cast, login):
    recording, _ = _ingest(cast.acme)
    carol = login(cast.carol)
    carol.post(
        reverse("recordings:listen", args=[recording.pk]),
        {"purpose": "training", "justification": JUSTIFICATION},
    )
    player = carol.get(reverse("recordings:player", args=[recording.pk]))
    assert player.status_code == 200
    _assert_strict(_directives(player))
    html = player.content.decode()
    # style-src 'self' refuses inline styles: the page must not depend on one.
    assert "style=" not in html
    assert "<script>" not in html


# What style-src 'self' and script-src 'self' refuse: an inline style sheet or style attribute,
# an inline script, and an event handler attribute (onclick=...).
_INLINE = re.compile(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", re.IGNORECASE)


def test_the_consent_receipt_carries_the_policy_and_needs_nothing_inline(cast, login):
    consent = _record(cast.acme, decision="granted", hours_ago=2)
    response = login(cast.alice).get(f"/compliance/consents/{consent.pk}/receipt/")
    assert response.status_code == 200
    _assert_strict(_directives(response))
    html = response.content.decode()
    assert not _INLINE.search(html), _INLINE.search(html)
    # Its print styles and its print button come from the portal's own files, which exist.
    assert "compliance/consent_receipt.css" in html
    assert "compliance/consent_receipt.js" in html
    assert finders.find("compliance/consent_receipt.css")
    assert finders.find("compliance/consent_receipt.js")


def test_no_template_of_the_portal_has_anything_inline():
    """Every template the portal serves is held to the policy, those added later too."""
    base = Path(settings.BASE_DIR).resolve()
    templates = [
        path
        for path in base.rglob("templates/**/*.html")
        if ".venv" not in path.relative_to(base).parts
    ]
    assert len(templates) >= 5
    offending = {
        str(path.relative_to(base)): match.group(0)
        for path in templates
        if (match := _INLINE.search(path.read_text()))
    }
    assert offending == {}


def test_the_api_is_never_framed_either(client):
    assert _directives(client.get("/api/v1/health"))["frame-ancestors"] == ["'none'"]
