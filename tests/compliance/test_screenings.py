"""Screenings by Bloctel and Lista Robinson (compliance/services/screenings.py): the campaign's
file exported in the service's format, its answer imported all or nothing, dated, audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import phonenumbers
import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st

from audit.models import AuditEvent
from compliance.dnc_models import CampaignNumber, Screening, ScreeningRemoval, ScreeningStatus
from compliance.dnc_numbers import ListNumberReader
from compliance.dnc_screening_files import FORMATS
from compliance.services.campaigns import campaign_numbers_import
from compliance.services.screenings import screening_answer_import, screening_export
from kit.refusals import Refused

from ..factories import campaign_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(cast):
    return campaign_for(
        tenant=cast.acme,
        name="Renewals",
        numbers=("0612345678", "06 12 34 56 79", "+33612345680", "+447911123456", "+34612345678"),
    )


def _answer(cast, screening, text, *, screened_on=None, actor=None):
    return screening_answer_import(
        actor=actor or cast.alice,
        screening=screening,
        data=text if isinstance(text, bytes) else text.encode(),
        screened_on=screened_on or timezone.localdate(),
        file_name="answer.txt",
    )


def test_bloctel_gets_the_french_numbers_in_their_ten_digit_national_form(cast, campaign):
    exported = screening_export(actor=cast.alice, campaign=campaign, source="bloctel")
    assert exported.content == b"0612345678\n0612345679\n0612345680\n"
    assert exported.file_name.startswith("bloctel-renewals-")
    assert exported.file_name.endswith(".txt")
    screening = exported.screening
    assert screening.status == ScreeningStatus.SUBMITTED and screening.exported_count == 3
    assert screening.export_sha256 == hashlib.sha256(exported.content).hexdigest()
    assert screening.exported_by == "alice"
    event = AuditEvent.objects.get(action="screening.exported")
    assert event.target_id == str(screening.pk) and event.extra["numbers"] == 3


def test_lista_robinson_gets_the_spanish_numbers_in_their_nine_digit_form(cast, campaign):
    exported = screening_export(actor=cast.alice, campaign=campaign, source="robinson")
    assert exported.content == b"612345678\n"


@pytest.mark.parametrize("source", ["tps", "internal", "nonsense"])
def test_a_list_custodia_holds_is_not_exported(cast, campaign, source):
    with pytest.raises(Refused) as refused:
        screening_export(actor=cast.alice, campaign=campaign, source=source)
    assert refused.value.field == "source"
    assert not Screening.objects.exists()


def test_a_source_that_does_not_apply_or_without_numbers_is_refused(cast):
    french_only = campaign_for(tenant=cast.acme, numbers=("0612345678",))
    with pytest.raises(Refused):
        screening_export(actor=cast.alice, campaign=french_only, source="robinson")
    empty = campaign_for(tenant=cast.acme)
    with pytest.raises(Refused) as refused:
        screening_export(actor=cast.alice, campaign=empty, source="bloctel")
    assert "no number" in str(refused.value.message)
    assert not Screening.objects.exists()


def test_only_a_role_that_may_change_the_campaign_exports(cast, campaign):
    for person in (cast.bob, cast.dave, cast.erin):
        with pytest.raises(Refused) as refused:
            screening_export(actor=person, campaign=campaign, source="bloctel")
        assert refused.value.status == 403
    assert not Screening.objects.exists()


def test_the_answer_records_the_numbers_to_remove_dated_and_audited(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    answered = _answer(cast, screening, b"\xef\xbb\xbf0612345678\r\n06 12 34 56 80\r\n\r\n")
    assert answered.status == ScreeningStatus.ANSWERED and answered.removed_count == 2
    assert answered.screened_at >= screening.exported_at
    assert answered.answered_by == "alice" and answered.answer_file_name == "answer.txt"
    assert sorted(ScreeningRemoval.objects.values_list("number", flat=True)) == [
        33612345678,
        33612345680,
    ]
    event = AuditEvent.objects.get(action="screening.answer_imported")
    assert event.extra["removed"] == 2 and event.extra["submitted"] == 3


def test_an_empty_answer_means_nothing_to_remove(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    assert _answer(cast, screening, b"").removed_count == 0


def test_a_latin1_answer_is_read(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="robinson").screening
    answered = _answer(cast, screening, "612345678\n".encode("latin-1"))
    assert answered.removed_count == 1


def test_an_answer_naming_numbers_not_submitted_is_refused_with_its_lines(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    with pytest.raises(Refused) as refused:
        _answer(cast, screening, "0612345678\n0699999999\n0612345679\n0698888888\n")
    message = str(refused.value.message)
    assert "lines 2, 4" in message and refused.value.field == "file"
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.SUBMITTED
    assert not ScreeningRemoval.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.answer_imported").exists()


def test_numbers_added_after_the_export_are_not_covered_by_its_answer(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    campaign_numbers_import(actor=cast.alice, campaign=campaign, data=b"0612345681\n")
    added = CampaignNumber.objects.get(number=33612345681)
    assert added.added_at > screening.exported_at
    with pytest.raises(Refused) as refused:
        _answer(cast, screening, "0612345681\n")
    assert "line" in str(refused.value.message)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0612345678\nabcdef\n", "line 2"),
        ("0612345678\n+447911123456\n", "line 2"),  # another country's number
        ("0612345678\n06123", "truncated"),
    ],
)
def test_an_answer_with_a_line_that_is_no_number_of_the_country_imports_nothing(
    cast, campaign, text, reason
):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    with pytest.raises(Refused) as refused:
        _answer(cast, screening, text)
    assert reason in str(refused.value.message)
    assert not ScreeningRemoval.objects.exists()


def test_the_answers_date_may_be_neither_in_the_future_nor_before_the_export(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    for day in (timezone.localdate() + timedelta(days=2), timezone.localdate() - timedelta(days=2)):
        with pytest.raises(Refused) as refused:
            _answer(cast, screening, "0612345678\n", screened_on=day)
        assert refused.value.field == "screened_on"
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.SUBMITTED


def test_an_answer_is_imported_once_and_by_a_role_that_may(cast, campaign):
    screening = screening_export(actor=cast.alice, campaign=campaign, source="bloctel").screening
    with pytest.raises(Refused) as refused:
        _answer(cast, screening, "0612345678\n", actor=cast.dave)
    assert refused.value.status == 403
    _answer(cast, screening, "0612345678\n")
    with pytest.raises(Refused) as refused:
        _answer(cast, screening, "0612345679\n")
    assert refused.value.status == 409
    assert ScreeningRemoval.objects.count() == 1


# --- the file format, for any number ----------------------------------------------------------


@given(digits=st.text(alphabet="0123456789", min_size=8, max_size=8), mobile=st.sampled_from("67"))
def test_a_french_number_written_for_bloctel_reads_back_as_itself(digits, mobile):
    """Every valid French mobile number, written as Bloctel takes it, is read from its answer
    as the very number submitted."""
    stored = int(f"33{mobile}{digits}")
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+{stored}")))
    line = FORMATS["bloctel"].line(stored)
    assert len(line) == 10 and line.startswith("0") and line.isdigit()
    reader = ListNumberReader(country="FR", default_region="FR")
    assert int(reader.digits(line.encode())) == stored


@given(digits=st.text(alphabet="0123456789", min_size=8, max_size=8), mobile=st.sampled_from("67"))
def test_a_spanish_number_written_for_lista_robinson_reads_back_as_itself(digits, mobile):
    """The same for Lista Robinson's nine digits."""
    stored = int(f"34{mobile}{digits}")
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+{stored}")))
    line = FORMATS["robinson"].line(stored)
    assert len(line) == 9 and line.isdigit()
    reader = ListNumberReader(country="ES", default_region="ES")
    assert int(reader.digits(line.encode())) == stored
