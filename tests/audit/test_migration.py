"""A chain written before keys (hash scheme 1) migrates without losing verifiability."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.chain import (
    GENESIS_HASH,
    content_hash,
    format_instant,
    legacy_checkpoint_signature,
    link_hash,
)
from audit.chain_scan import VERIFY_SQL
from audit.models import AuditEvent, Checkpoint
from audit.services import event_record
from audit.verification import audit_chain_verify

BEFORE_KEYS = ("audit", "0003_tenant_scoped_indexes")
COLUMNS = (
    "occurred_at, tenant_id, actor_id, actor_username, action, outcome, target_type, target_id, "
    "target_label, purpose, justification, client_ip, user_agent, workstation_id, request_id, "
    "extra"
)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _write_unkeyed_events(count: int, settings) -> None:
    """As the code before keys did: SHA-256 of the content, no key id column, and an unnumbered
    checkpoint signed over (sequence, hash, created_at)."""
    previous = GENESIS_HASH
    with connection.cursor() as cursor:
        for sequence in range(1, count + 1):
            occurred_at = timezone.now()
            values = [
                format_instant(occurred_at), None, None, "legacy", "recording.played",
                "allowed", "test.thing", str(sequence), "", "quality", "written before keys",
                "10.0.0.1", "agent", "WS-1", "", {"n": sequence},
            ]  # fmt: skip
            chain_hash = link_hash(sequence, previous, content_hash(values))
            cursor.execute(
                f"INSERT INTO audit_auditevent (sequence, previous_hash, hash, {COLUMNS}) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s::jsonb)",
                [
                    sequence,
                    previous,
                    chain_hash,
                    occurred_at,
                    *values[1:-1],
                    json.dumps(values[-1]),
                ],
            )
            cursor.execute(
                "UPDATE audit_chainhead SET sequence = %s, hash = %s, previous_hash = %s",
                [sequence, chain_hash, previous],
            )
            if sequence == 2:
                created_at = timezone.now()
                signature = legacy_checkpoint_signature(
                    settings.AUDIT_HMAC_KEY, 2, chain_hash, format_instant(created_at)
                )
                cursor.execute(
                    "INSERT INTO audit_checkpoint (sequence, hash, created_at, signature) "
                    "VALUES (2, %s, %s, %s)",
                    [chain_hash, created_at, signature],
                )
            previous = chain_hash


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # migrates back and forth: about a minute quiet, over two under load
def test_an_unkeyed_chain_migrates_sealed_and_keeps_verifying(settings):
    _migrate([BEFORE_KEYS])
    try:
        _write_unkeyed_events(5, settings)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    seal = Checkpoint.objects.get()
    assert (seal.number, seal.kind, seal.sequence) == (1, "seal", 5)
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {""}
    result = audit_chain_verify()
    assert result.intact, result.reason
    assert result.checked == 5

    event_record(action="recording.played", target_type="test.thing", target_id="after")
    event_record(action="recording.played", target_type="test.thing", target_id="after")
    result = audit_chain_verify()
    assert (result.intact, result.checked) == (True, 7)

    # Keyed events cannot be rewritten as unkeyed ones: the seal ends at 5.
    with connection.cursor() as cursor:
        cursor.execute(VERIFY_SQL, [5, 6])
        row = cursor.fetchone()
        forged = link_hash(6, row[1], content_hash([*row[4:-1], json.loads(row[-1])]))
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE audit_auditevent SET key_id = '', hash = %s WHERE sequence = 6", [forged]
        )
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    result = audit_chain_verify()
    assert result.broken_at == 6
    assert "unkeyed" in result.reason
