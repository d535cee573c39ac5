"""Django's "view on site" shortcut (/admin/r/<content type>/<id>/) answers another tenant's
object exactly as an id that does not exist: a 404, for every model (issue 11, finding 7)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from recordings.models import Recording

from ..factories import SCOPED_FACTORIES

pytestmark = pytest.mark.django_db


def _shortcut(model, object_id) -> str:
    content_type = ContentType.objects.get_for_model(model)
    return reverse("admin:view_on_site", args=[content_type.pk, object_id])


def test_another_tenants_recording_is_answered_like_a_missing_one(cast, login):
    globex_recording = SCOPED_FACTORIES[Recording](cast.globex)
    client = login(cast.alice)
    foreign = client.get(_shortcut(Recording, globex_recording.pk))
    missing = client.get(_shortcut(Recording, globex_recording.pk + 1000))
    assert foreign.status_code == missing.status_code == 404
    assert str(globex_recording.pk) not in foreign.get("Location", "")


def test_ones_own_recording_leads_to_its_page(cast, login):
    recording = SCOPED_FACTORIES[Recording](cast.acme)
    response = login(cast.bob).get(_shortcut(Recording, recording.pk))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:recordings_recording_change", args=[recording.pk])


@pytest.mark.parametrize("model", sorted(SCOPED_FACTORIES, key=lambda m: m._meta.label), ids=str)
def test_no_model_tells_another_tenants_object_from_a_missing_one(cast, login, model):
    globex_object = SCOPED_FACTORIES[model](cast.globex)
    client = login(cast.alice)
    assert client.get(_shortcut(model, globex_object.pk)).status_code == 404
    assert client.get(_shortcut(model, "not-an-id")).status_code == 404


def test_a_model_without_an_admin_is_a_404_even_for_the_platform_operator(cast, login):
    from django.contrib.contenttypes.models import ContentType as Model

    assert Model not in admin.site._registry
    content_type = ContentType.objects.get_for_model(Recording)
    response = login(cast.root).get(_shortcut(Model, content_type.pk))
    assert response.status_code == 404


def test_the_shortcut_asks_to_sign_in_first(cast, client):
    recording = SCOPED_FACTORIES[Recording](cast.acme)
    response = client.get(_shortcut(Recording, recording.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
