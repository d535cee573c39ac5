"""The campaign commands: numbers imported, Bloctel's file exported, its answer imported, each
through its service, refusals as one line and exit 1."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from compliance.dnc_models import CampaignNumber, Screening, ScreeningStatus

from ..factories import campaign_for

pytestmark = pytest.mark.django_db


def test_numbers_export_and_answer_from_the_command_line(cast, tmp_path, capsys):
    campaign = campaign_for(tenant=cast.acme, name="Renewals")
    numbers = tmp_path / "numbers.csv"
    numbers.write_bytes("Numéro\n0612345678\n0612345679\n".encode("latin-1"))
    call_command("import_campaign_numbers", tenant="acme", campaign="Renewals", file=str(numbers))
    assert CampaignNumber.objects.filter(campaign=campaign).count() == 2
    assert "2 numbers added" in capsys.readouterr().out
    output = tmp_path / "bloctel.txt"
    call_command(
        "export_screening_file",
        tenant="acme",
        campaign="Renewals",
        source="bloctel",
        output=str(output),
    )
    assert output.read_bytes() == b"0612345678\n0612345679\n"
    screening = Screening.objects.get(campaign=campaign)
    answer = tmp_path / "answer.txt"
    answer.write_bytes(b"0612345679\n")
    call_command(
        "import_screening_answer",
        screening=screening.pk,
        file=str(answer),
        screened_on=timezone.localdate().isoformat(),
    )
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.ANSWERED and screening.removed_count == 1
    event = AuditEvent.objects.get(action="screening.answer_imported")
    assert event.actor_username == "command:import_screening_answer"


def test_a_refused_file_is_one_line_and_imports_nothing(cast, tmp_path):
    campaign_for(tenant=cast.acme, name="Renewals")
    numbers = tmp_path / "numbers.txt"
    numbers.write_bytes(b"0612345678\nnot a number\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command(
            "import_campaign_numbers", tenant="acme", campaign="Renewals", file=str(numbers)
        )
    assert not CampaignNumber.objects.exists()
    with pytest.raises(CommandError, match="no campaign"):
        call_command("export_screening_file", tenant="globex", campaign="Renewals", source="x")
