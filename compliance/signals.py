"""Receivers of the compliance app's own models' signals."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Tenant


@receiver(post_save, sender=Tenant, dispatch_uid="compliance.platform_processor")
def platform_processor_for_new_tenant(sender, instance, created, raw=False, **kwargs):
    """A new tenant's register starts with the platform, its first processor (GDPR Art. 28)."""
    if created and not raw:
        from .services.processors import platform_processor_ensure

        platform_processor_ensure(instance)
