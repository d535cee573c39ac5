"""Whatever a query string holds, every admin page answers with a page, a redirect or a 4xx,
never a 500: a filter's value it cannot use is Django's "invalid lookup" (the changelist
redirects with ?e=1); a NUL character, which PostgreSQL cannot hold, is a 400."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

from audit.models import AuditEvent
from compliance.models import Consent, Purpose, RetentionPolicy
from kit import limits
from recordings.models import Recording

from ..factories import SCOPED_FACTORIES, PurposeFactory

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
AUTOCOMPLETES = [
    (model, field) for model, model_admin in REGISTERED for field in model_admin.autocomplete_fields
]
NUL = "\x00"


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _filter_parameters(client, model) -> list[str]:
    """The query parameters of the changelist's list filters."""
    page = client.get(_changelist(model))
    assert page.status_code == 200
    return sorted(
        {name for spec in page.context["cl"].filter_specs for name in spec.expected_parameters()}
    )


def test_a_tenant_filter_value_that_is_not_an_offered_tenant_redirects_with_e1(cast, login):
    acme_consent = SCOPED_FACTORIES[Consent](cast.acme)
    client = login(cast.alice)
    url = _changelist(Consent)
    for value in ("abc", "", "99999999", "99999999999999999999", str(cast.globex.pk)):
        response = client.get(url, {"tenant": value})
        assert response.status_code == 302, value
        assert response["Location"] == f"{url}?e=1"
    # Another client's tenant is answered as an unknown one: nothing tells it exists.
    listed = client.get(url, {"tenant": cast.acme.pk}).context["cl"].result_list
    assert [consent.pk for consent in listed] == [acme_consent.pk]


def test_the_audit_exports_unusable_filter_is_a_400(cast, login):
    export = reverse("admin:audit_auditevent_export")
    client = login(cast.alice)
    assert client.get(export, {"tenant": "abc"}).status_code == 400
    assert client.get(export, {"sequence": "abc"}).status_code == 400
    assert client.get(export, {"tenant": cast.acme.pk}).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=lambda x: str(x)[:40])
def test_no_filter_value_makes_any_changelist_fail(cast, login, model, model_admin):
    """Every list filter given values that are no choice of it: the page, or the redirect with
    ?e=1; a `tenant` lookup where the list offers no tenant filter is refused (a 400)."""
    client = login(cast.root)
    url = _changelist(model)
    declared = _filter_parameters(client, model)
    for name in {*declared, "tenant"}:
        for value in ("abc", "", "-1", "99999999999999999999"):
            response = client.get(url, {name: value})
            if name not in declared:
                assert response.status_code == 400, (name, value)
                continue
            assert response.status_code in (200, 302), (name, value)
            if response.status_code == 302:
                assert response["Location"] == f"{url}?e=1"


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=lambda x: str(x)[:40])
def test_a_nul_character_anywhere_in_a_changelists_query_string_is_a_400(
    cast, login, model, model_admin
):
    """The search term, every list filter, and a lookup on a text field (?name=), which Django
    applies as a filter too."""
    client = login(cast.root)
    url = _changelist(model)
    text_field = next(
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField)
    )
    for name in {*_filter_parameters(client, model), "q", text_field}:
        for value in (NUL, f"1{NUL}"):
            assert client.get(url, {name: value}).status_code == 400, (name, value)
    assert client.get(url, {"o": f"1{NUL}"}).status_code == 400


def test_a_nul_character_in_a_purge_run_filter_is_a_400_for_a_member_too(cast, login):
    client = login(cast.alice)
    url = reverse("admin:recordings_purgerun_changelist")
    assert client.get(url, {"status__exact": NUL}).status_code == 400
    assert client.get(url, {"status__exact": "finished"}).status_code == 200


@pytest.mark.parametrize(("model", "field"), AUTOCOMPLETES, ids=str)
def test_a_nul_character_in_any_autocomplete_term_is_a_400(cast, login, model, field):
    """E.g. the person picker of the membership form, answered by the user admin."""
    response = login(cast.root).get(
        reverse("admin:autocomplete"),
        {
            "term": f"ali{NUL}",
            "app_label": model._meta.app_label,
            "model_name": model._meta.model_name,
            "field_name": field,
        },
    )
    assert response.status_code == 400


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=lambda x: str(x)[:40])
def test_an_overlong_value_in_any_changelists_query_string_is_a_400(
    cast, login, model, model_admin
):
    """5,000 digits overflowed Python's int conversion (a 500) in the id filters; no search term
    or filter value a person types is that long."""
    client = login(cast.root)
    url = _changelist(model)
    for name in {*_filter_parameters(client, model), "q", "o", "p"}:
        response = client.get(url, {name: "9" * 5000})
        assert response.status_code == 400, name
    assert client.get(url, {"q": "9" * limits.QUERY_STRING_VALUE}).status_code == 200


def test_an_overlong_audit_target_or_actor_filter_is_a_400_for_a_member(cast, login):
    client = login(cast.alice)
    url = reverse("admin:audit_auditevent_changelist")
    for name in ("actor", "target", "tenant"):
        assert client.get(url, {name: "9" * 5000}).status_code == 400, name
    export = reverse("admin:audit_auditevent_export")
    assert client.get(export, {"actor": "9" * 5000}).status_code == 400


def test_a_purpose_filter_value_that_is_not_an_offered_purpose_redirects_with_e1(cast, login):
    """The recordings, the audit trail, the policies and the consents filter by purpose the same
    way: a value that is no purpose offered (not one, unknown, or another client's) is Django's
    invalid lookup, as for the tenant filter; an offered one filters."""
    globex_own = PurposeFactory(tenant=cast.globex, code="globex-loyalty", name="Globex loyalty")
    quality = Purpose.objects.get(tenant__isnull=True, code="quality")
    client = login(cast.alice)
    by_id = ("abc", "-1", "99999999", "99999999999999999999", str(globex_own.pk))
    by_code = ("abc", "-1", globex_own.code)
    for model, unknown, offered in [
        (Recording, by_id, quality.pk),
        (RetentionPolicy, by_id, quality.pk),
        (Consent, by_id, quality.pk),
        (AuditEvent, by_code, quality.code),
    ]:
        url = _changelist(model)
        for value in unknown:
            response = client.get(url, {"purpose": value})
            assert response.status_code == 302, (model, value)
            assert response["Location"] == f"{url}?e=1"
        assert client.get(url, {"purpose": offered}).status_code == 200, model
    export = reverse("admin:audit_auditevent_export")
    assert client.get(export, {"purpose": globex_own.code}).status_code == 400
    assert client.get(export, {"purpose": quality.code}).status_code == 200
