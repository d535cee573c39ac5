"""Retention: the longest applicable policy of the most specific scope decides retain_until."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from compliance.models import Purpose, RetentionPolicy, Tenant
from compliance.retention import choose_policy, decide, retain_until_for

TODAY = date(2026, 11, 28)


def _policy(pk: int, tenant_id: int | None, months: int, effective: date, active: bool = True):
    return RetentionPolicy(
        pk=pk,
        tenant_id=tenant_id,
        purpose_id=1,
        retention_months=months,
        effective_from=effective,
        active=active,
        name=f"p{pk}",
    )


policies = st.lists(
    st.builds(
        _policy,
        pk=st.integers(1, 10_000),
        tenant_id=st.sampled_from([None, 1, 2]),
        months=st.integers(1, 120),
        effective=st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 1, 1)),
        active=st.booleans(),
    ),
    max_size=8,
)


@given(policies)
def test_chosen_policy_is_in_force_for_the_tenant_and_the_longest_of_its_scope(candidates):
    chosen = choose_policy(candidates, tenant_id=1, today=TODAY)
    in_force = [
        p for p in candidates if p.active and p.effective_from <= TODAY and p.tenant_id in (None, 1)
    ]
    if not in_force:
        assert chosen is None
        return
    assert chosen in in_force
    own = [p for p in in_force if p.tenant_id == 1]
    scope = own or in_force
    assert chosen.tenant_id == (1 if own else None)
    assert chosen.retention_months == max(p.retention_months for p in scope)


@given(policies)
def test_another_tenants_policy_never_decides(candidates):
    chosen = choose_policy(candidates, tenant_id=1, today=TODAY)
    assert chosen is None or chosen.tenant_id != 2


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)
    ),
    st.integers(1, 120),
)
def test_retain_until_is_the_local_start_date_plus_whole_months(started_at, months):
    tenant = Tenant(pk=1, time_zone="Europe/Paris")
    purpose = Purpose(pk=1, default_retention_months=99)
    decision = decide(
        [_policy(1, None, months, date(2000, 1, 1))],
        purpose=purpose,
        tenant=tenant,
        started_at=started_at,
        today=TODAY,
    )
    local = started_at.astimezone(ZoneInfo("Europe/Paris")).date()
    assert decision.retain_until == local + relativedelta(months=months)
    assert decision.retain_until > local


@pytest.mark.django_db
def test_shipped_presets_cite_their_sources_and_decide(cast):
    cnil = RetentionPolicy.objects.get(purpose__code="quality", tenant=None)
    assert cnil.retention_months == 6 and "CNIL" in cnil.legal_reference
    mifid = RetentionPolicy.objects.get(purpose__code="investment_services", tenant=None)
    assert (mifid.retention_months, mifid.maximum_months) == (60, 84)
    assert "16(7)" in mifid.legal_reference
    insurance = RetentionPolicy.objects.get(purpose__code="insurance_telesales")
    assert insurance.retention_months == 24 and "R.112-7" in insurance.legal_reference
    analysis = RetentionPolicy.objects.get(purpose__code="call_analysis")
    assert analysis.retention_months == 12
    started = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 1 April in Paris
    decision = retain_until_for(
        tenant=cast.acme, purpose=Purpose.objects.get(code="quality"), started_at=started
    )
    assert decision.retain_until == date(2026, 10, 1)
    assert decision.policy_id == cnil.pk


@pytest.mark.django_db
def test_tenant_policy_tightens_the_preset_but_cannot_exceed_its_maximum(cast):
    quality = Purpose.objects.get(code="quality")
    tighter = RetentionPolicy(
        tenant=cast.acme,
        purpose=quality,
        name="Acme: 3 months",
        retention_months=3,
        legal_reference="Acme's works council agreement",
        effective_from=date(2026, 1, 1),
    )
    tighter.full_clean()
    tighter.save()
    started = datetime(2026, 5, 10, 10, tzinfo=UTC)
    assert retain_until_for(tenant=cast.acme, purpose=quality, started_at=started).months == 3
    assert retain_until_for(tenant=cast.globex, purpose=quality, started_at=started).months == 6
    longer = RetentionPolicy(
        tenant=cast.acme,
        purpose=quality,
        name="Acme: 12 months",
        retention_months=12,
        legal_reference="none",
        effective_from=date(2026, 1, 1),
    )
    with pytest.raises(ValidationError) as error:
        longer.full_clean()
    assert "retention_months" in error.value.message_dict
