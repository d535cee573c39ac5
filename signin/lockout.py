"""Two tiers of lockout on django-axes' database handler.

AXES_LOCKOUT_PARAMETERS lists the account tier first and the address tier second; django-axes
locks when either reaches AXES_FAILURE_LIMIT. Agents of a contact centre share one address
behind NAT, so an address may fail more often than an account before it is locked:
SIGNIN_ADDRESS_FAILURE_LIMIT. django-axes has one limit for every tier, so the address's failures
are given to it scaled to the account's limit: it locks at the account's limit exactly when the
address reaches its own.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class TieredLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        account_attempts, *address_attempts = self.get_user_attempts(request, credentials)
        account = _failures(account_attempts)
        address = _failures(address_attempts[0]) if address_attempts else 0
        # For the lockout event: which tier this sign-in brought to its limit, if one.
        request.signin_failures = {"account": account, "address": address}
        account_limit = settings.AXES_FAILURE_LIMIT
        address_limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
        return max(account, address * account_limit // address_limit)
