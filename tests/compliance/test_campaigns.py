"""Campaigns and their numbers (compliance/services/campaigns.py): created with the lists that
apply, numbers imported from a file all or nothing, each step on the trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_models import Campaign, CampaignNumber
from compliance.models import LegalBasis
from compliance.services.campaigns import campaign_create, campaign_numbers_import
from kit.refusals import Refused

from ..factories import PurposeFactory, campaign_for

pytestmark = pytest.mark.django_db


def _create(cast, **overrides):
    today = timezone.localdate()
    values = {
        "actor": cast.alice,
        "tenant": cast.acme,
        "name": "Spring renewals",
        "purpose": PurposeFactory(tenant=cast.acme),
        "legal_basis": LegalBasis.LEGITIMATE_INTEREST,
        "starts_on": today,
        "ends_on": today + timedelta(days=30),
        **overrides,
    }
    return campaign_create(**values)


def _import(cast, campaign, text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return campaign_numbers_import(actor=cast.alice, campaign=campaign, data=data, **kwargs)


# --- campaign_create ------------------------------------------------------------------------------


def test_a_campaign_gets_the_lists_of_its_tenants_country_and_is_audited(cast):
    campaign = _create(cast)
    assert campaign.sources == ["internal", "bloctel"]
    assert campaign.created_by == "alice" and campaign.number_count == 0
    event = AuditEvent.objects.get(action="campaign.created")
    assert event.target_id == str(campaign.pk) and event.tenant_id == cast.acme.pk
    assert event.actor_username == "alice"


def test_a_spanish_tenants_campaign_is_screened_by_lista_robinson(cast):
    campaign = _create(cast, actor=cast.erin, tenant=cast.globex, purpose=PurposeFactory())
    assert campaign.sources == ["internal", "robinson"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 161}, "name"),
        ({"legal_basis": "whim"}, "legal_basis"),
        ({"ends_on": timezone.localdate() - timedelta(days=1)}, "ends_on"),
        ({"starts_on": timezone.localdate().replace(year=1999)}, "starts_on"),
    ],
)
def test_a_campaign_with_bad_input_is_refused(cast, overrides, field):
    with pytest.raises(Refused) as refused:
        _create(cast, **overrides)
    assert refused.value.field == field
    assert not Campaign.objects.exists()
    assert not AuditEvent.objects.filter(action="campaign.created").exists()


def test_a_campaign_name_is_once_per_tenant_and_the_purpose_the_tenants(cast):
    _create(cast)
    with pytest.raises(Refused) as refused:
        _create(cast)
    assert refused.value.field == "name"
    with pytest.raises(Refused) as refused:
        _create(cast, name="Other", purpose=PurposeFactory(tenant=cast.globex))
    assert refused.value.field == "purpose"
    with pytest.raises(Refused) as refused:
        _create(cast, name="Retired", purpose=PurposeFactory(tenant=cast.acme, active=False))
    assert refused.value.field == "purpose"


def test_only_a_role_that_may_add_campaigns_in_the_tenant_creates_one(cast):
    for person in (cast.bob, cast.dave, cast.erin):
        with pytest.raises(Refused) as refused:
            _create(cast, actor=person)
        assert refused.value.status == 403
    assert not Campaign.objects.exists()


# --- campaign_numbers_import ----------------------------------------------------------------


def test_numbers_are_normalised_counted_and_duplicates_ignored(cast):
    campaign = _create(cast)
    before = timezone.now()
    result = _import(cast, campaign, "06 12 34 56 78\n+33612345679\n0612345678\n\n0033612345680\n")
    assert (result.added, result.duplicates, result.rejected) == (3, 1, 0)
    stored = CampaignNumber.objects.filter(campaign=campaign)
    assert sorted(stored.values_list("number", flat=True)) == [
        33612345678,
        33612345679,
        33612345680,
    ]
    assert set(stored.values_list("country", flat=True)) == {"FR"}
    assert all(number.added_at >= before for number in stored)
    again = _import(cast, campaign, "0612345678\n0612345681\n")
    assert (again.added, again.duplicates) == (1, 1)
    campaign.refresh_from_db()
    assert campaign.number_count == 4
    events = AuditEvent.objects.filter(action="campaign.numbers_imported")
    assert events.count() == 2
    assert events.order_by("sequence").first().extra["added"] == 3


def test_a_csv_with_a_number_column_is_read_by_its_header(cast):
    campaign = _create(cast)
    text = "name;Numéro;city\nDupont;0612345678;Lyon\nMartin;0612345679;\n"
    result = _import(cast, campaign, text)
    assert result.added == 2


def test_another_countrys_number_brings_its_national_list(cast):
    campaign = _create(cast)
    _import(cast, campaign, "0612345678\n+447911123456\n")
    campaign.refresh_from_db()
    assert campaign.sources == ["internal", "bloctel", "tps", "ctps"]
    assert CampaignNumber.objects.get(number=447911123456).country == "GB"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("0612345678\nnot a number\n", 2),
        ("0612345678\n\n0612\n", 3),
        ("0612345678\n06123", 2),  # truncated: the last line cut short
    ],
)
def test_a_file_with_a_rejected_line_imports_nothing_and_names_the_line(cast, text, line):
    campaign = _create(cast)
    with pytest.raises(Refused) as refused:
        _import(cast, campaign, text)
    assert f"line {line}:" in str(refused.value.message)
    assert refused.value.field == "file"
    assert not CampaignNumber.objects.exists()
    assert not AuditEvent.objects.filter(action="campaign.numbers_imported").exists()


def test_a_truncated_file_says_so(cast):
    campaign = _create(cast)
    with pytest.raises(Refused) as refused:
        _import(cast, campaign, "0612345678\n06123")
    assert "truncated" in str(refused.value.message)


def test_rejected_lines_up_to_the_allowance_are_reported_and_the_rest_imported(cast):
    campaign = _create(cast)
    result = _import(cast, campaign, "0612345678\nabc\n0612345679\n", max_rejected=1)
    assert result.added == 2 and result.rejected == 1
    assert result.rejections[0].line == 2


def test_a_csv_without_a_number_column_is_refused(cast):
    campaign = _create(cast)
    with pytest.raises(Refused) as refused:
        _import(cast, campaign, "name,city\nDupont,Lyon\n")
    assert "no number column" in str(refused.value.message)
    assert not CampaignNumber.objects.exists()


def test_latin1_utf16_and_a_byte_order_mark_are_read(cast):
    campaign = _create(cast)
    latin1 = "Numéro;Nom\n0612345678;Hélène\n".encode("latin-1")
    assert _import(cast, campaign, latin1).added == 1
    assert _import(cast, campaign, b"\xef\xbb\xbf0612345679\r\n").added == 1
    utf16 = "0612345680\n".encode("utf-16")
    assert _import(cast, campaign, utf16).added == 1


def test_an_empty_file_or_one_of_empty_lines_is_refused(cast):
    campaign = _create(cast)
    for data in (b"", b"\n\n  \n"):
        with pytest.raises(Refused):
            _import(cast, campaign, data)
    assert not CampaignNumber.objects.exists()


def test_numbers_are_refused_for_an_ended_campaign_or_a_role_that_may_not(cast):
    campaign = campaign_for(tenant=cast.acme)
    for person in (cast.bob, cast.dave, cast.erin):
        with pytest.raises(Refused) as refused:
            campaign_numbers_import(actor=person, campaign=campaign, data=b"0612345678\n")
        assert refused.value.status == 403
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_on=timezone.localdate() - timedelta(days=60),
        ends_on=timezone.localdate() - timedelta(days=30),
    )
    campaign.refresh_from_db()
    with pytest.raises(Refused) as refused:
        _import(cast, campaign, "0612345678\n")
    assert refused.value.field == "campaign"
    assert not CampaignNumber.objects.exists()
