"""Cache invalidation for authentication: the only thing these signals do.

Any committed change to a tier, a tenant or an existing API key starts a new auth
generation, so the next request re-reads limits, status, revocation and expiry. Signals
(rather than the services) so that every path is covered: admin edits and list_editable,
services, commands, deletes. Bulk ``QuerySet.update()`` bypasses them; none of our
write paths changes these fields that way (the TTL is the safety net for raw SQL).
"""

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.models import ApiKey, Tenant, Tier
from tenants.selectors import auth_generation_new

logger = logging.getLogger(__name__)


def _invalidate_on_commit(using):
    def invalidate():
        try:
            auth_generation_new()
        except Exception:
            logger.error("auth cache unavailable: cached keys stay valid until their TTL")

    transaction.on_commit(invalidate, using=using)


@receiver(post_save, sender=Tier, dispatch_uid="auth.tier.save")
@receiver(post_save, sender=Tenant, dispatch_uid="auth.tenant.save")
@receiver(post_save, sender=ApiKey, dispatch_uid="auth.apikey.save")
def _saved(sender, instance, created, using, **kwargs):
    if sender is ApiKey and created:
        return  # a new key has nothing cached yet
    _invalidate_on_commit(using)


@receiver(post_delete, sender=Tier, dispatch_uid="auth.tier.delete")
@receiver(post_delete, sender=Tenant, dispatch_uid="auth.tenant.delete")
@receiver(post_delete, sender=ApiKey, dispatch_uid="auth.apikey.delete")
def _deleted(sender, using, **kwargs):
    _invalidate_on_commit(using)
