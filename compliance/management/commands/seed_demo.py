"""Demo data: tenants Acme and Globex and the cast of the README. Idempotent."""

from __future__ import annotations

from datetime import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.context import acting_as
from compliance.models import Role, Tenant
from compliance.services import membership_grant

DEMO_PASSWORD = "custodia-demo"  # noqa: S105 - printed on purpose: demo accounts only

TENANTS = {
    "acme": {"name": "Acme Insurance", "country_code": "FR", "time_zone": "Europe/Paris"},
    "globex": {"name": "Globex Telecom", "country_code": "ES", "time_zone": "Europe/Madrid"},
}

PEOPLE = [
    ("alice", "acme", Role.COMPLIANCE_OFFICER),
    ("bob", "acme", Role.SUPERVISOR),
    ("carol", "acme", Role.QUALITY_ANALYST),
    ("dave", "acme", Role.AUDITOR),
    ("erin", "globex", Role.COMPLIANCE_OFFICER),
]
OPERATOR = "root"


class Command(BaseCommand):
    help = "Create the demo tenants and users (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        with acting_as("command:seed_demo"), transaction.atomic():
            tenants = {
                slug: Tenant.objects.get_or_create(
                    slug=slug,
                    defaults={
                        **fields,
                        "working_hours_start": time(8),
                        "working_hours_end": time(20),
                    },
                )[0]
                for slug, fields in TENANTS.items()
            }
            created = []
            for username, slug, role in PEOPLE:
                user, is_new = self._user(username, email=f"{username}@{slug}.example")
                if is_new:
                    created.append(username)
                membership_grant(actor="seed_demo", user=user, tenant=tenants[slug], role=role)
            _, is_new = self._user(OPERATOR, email="root@custodia.example", superuser=True)
            if is_new:
                created.append(OPERATOR)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for username, slug, role in PEOPLE:
            self.stdout.write(f"  {username:<6} {Role(role).label} at {tenants[slug].name}")
        self.stdout.write(f"  {OPERATOR:<6} platform operator (superuser)")
        if created:
            self.stdout.write(f"created: {', '.join(created)}")
        else:
            self.stdout.write("demo data already present: nothing changed")

    def _user(self, username: str, *, email: str, superuser: bool = False):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"email": email, "is_staff": True, "is_superuser": superuser},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user, created
