"""docs/architecture.md, invariant 1, under concurrency: a legal hold placed while the purge
runs always wins.

Two real connections: the hold is being placed (its transaction open) when the nightly purge
starts on the same tenant. Whatever the timing, the held recording must survive: the purge's
deletions wait for the hold to commit, then see it.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from compliance.services.legal_holds import legal_hold_place
from recordings.models import DeletionCertificate, Recording
from recordings.services.purge.run import purge_expired_recordings

from .helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

LONG_AGO = timezone.now() - timedelta(days=400)  # past every CNIL preset: purged tonight
NUMBER = "+33611112222"


def _waiting_on_an_advisory_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.parametrize("scope", ["by_name", "by_customer_number"])
def test_a_hold_being_placed_when_the_purge_starts_wins(cast, recordings_dir, scope):
    held = ingest(cast.acme, started_at=LONG_AGO, number=NUMBER)
    other = ingest(cast.acme, started_at=LONG_AGO, number="+33633334444")
    hold_open = threading.Event()
    commit_hold = threading.Event()
    failures: list[BaseException] = []

    def place_hold():
        try:
            with transaction.atomic():
                legal_hold_place(
                    actor=cast.alice,
                    tenant=cast.acme,
                    reference="LIT-2026-7",
                    reason="Claim by the caller",
                    **(
                        {"recordings": [held]}
                        if scope == "by_name"
                        else {"customer_number": NUMBER}
                    ),
                )
                hold_open.set()
                commit_hold.wait(timeout=30)
        except BaseException as error:
            failures.append(error)
        finally:
            hold_open.set()
            connection.close()

    outcome: dict[str, object] = {}

    def purge():
        try:
            outcome["run"] = purge_expired_recordings(batch_size=10)
        except BaseException as error:
            outcome["error"] = error
        finally:
            connection.close()

    placing = threading.Thread(target=place_hold)
    placing.start()
    assert hold_open.wait(timeout=30)
    purging = threading.Thread(target=purge)
    purging.start()
    # The purge either blocks behind the open hold or (if nothing made it wait) finishes first.
    deadline = time.monotonic() + 10
    while purging.is_alive() and not _waiting_on_an_advisory_lock():
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    waited = purging.is_alive()
    commit_hold.set()
    placing.join(timeout=30)
    purging.join(timeout=60)
    assert not failures, failures
    assert "error" not in outcome, outcome
    assert waited, "the purge did not wait for the hold being placed"
    assert Recording.objects.filter(pk=held.pk).exists()
    assert not DeletionCertificate.objects.filter(recording_id=held.pk).exists()
    # The purge did its work on the rest.
    assert not Recording.objects.filter(pk=other.pk).exists()
    assert DeletionCertificate.objects.filter(recording_id=other.pk).count() == 1
