"""Invalidation of cached responses and authentication: O(1), on commit, never lost.

Whatever is cached (radiant/cache.py: responses; tenants/auth.py: API key rows) is stored
with the *version tokens* it was built under, and an entry whose tokens are no longer
current is never used. Every change replaces tokens (``bump``) on commit of the transaction
that made it: a global change (a catalog model, a config entry, a translation) replaces the
one global token, which makes every tenant's entry built under it stale at once; nothing is
enumerated or deleted, and there is no KEYS/SCAN anywhere. Tokens are random rather than
counters, so a version key that is evicted or lost and then recreated can never match an
old entry again.

Each app states what its cached data depends on in its ``caching.py`` with
``invalidate_on_change(Model, versions_for)``: signals catch every instance write (admin,
API, commands, shell, cascades), ``InvalidatingQuerySet`` the bulk writes that send none.

**Changes that must not be lost** (a revoked key, a suspended tenant, a tier's limits: what
authentication caches) are registered ``strict``. Before such a write reaches the database,
its version keys are set to ``CHANGING``, under which nothing is ever cached or trusted; on
commit they get fresh tokens as usual. If Redis cannot take the first step, the write is
refused (``InvalidationUnavailable``) and the operator is told: nothing claims a success
that a recovering Redis could undo. If only the second step fails, the keys stay
``CHANGING`` and requests are answered from the database until the next change: slower,
never stale. A failed non-strict invalidation is logged as an error: entries can then be
stale for at most their TTL.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from radiant import metrics, signals

logger = logging.getLogger("radiant.cache")

VERSION_TTL = 7 * 24 * 60 * 60  # a lost version key only costs one rebuild per entry


def token() -> int:
    """A new version token: random (never a counter, see above), and an integer, which
    django-redis stores as its digits, so a Lua script can compare it (the rate-limit
    script checks a tenant's auth generation)."""
    return secrets.randbits(62)


# The value of a version key while a strict change is on its way to the database.
CHANGING = "changing"


class InvalidationUnavailable(RuntimeError):
    """A strict change was refused: the cache could not be told, so it would not apply."""

    def __init__(self, exc: Exception):
        super().__init__(
            f"the change was not made: the cache could not be reached to make it effective"
            f" ({type(exc).__name__}); try again when it is back"
        )


def mark_changing(*version_keys: str) -> None:
    """Before a strict write: nothing may be cached or trusted under these versions. Raises
    ``InvalidationUnavailable`` if the cache cannot be told."""
    if not version_keys:
        return
    try:
        cache.set_many(dict.fromkeys(version_keys, CHANGING), VERSION_TTL)
    except Exception as exc:
        logger.error("cache unreachable; refusing a change it could not make effective (%s)", type(exc).__name__)
        raise InvalidationUnavailable(exc) from exc


def bump(*version_keys: str) -> None:
    """Replace version tokens now: every entry built under the old ones is stale. O(keys)."""
    if not version_keys:
        return
    try:
        cache.set_many({key: token() for key in version_keys}, VERSION_TTL)
    except Exception as exc:
        metrics.redis_error("cache")
        logger.error(
            "cache invalidation failed (%s) for %s; entries may be stale for up to their TTL",
            type(exc).__name__, ", ".join(version_keys),
        )


class _Bump:
    """An on-commit callback; one per transaction, collecting every key its writes touched."""

    def __init__(self, keys: Iterable[str]):
        self.keys = set(keys)

    def __call__(self):
        bump(*sorted(self.keys))


def bump_on_commit(*version_keys: str, using: str) -> None:
    """Replace the tokens when the transaction on ``using`` commits (now, in autocommit).

    Nothing happens if it rolls back. Many writes in one transaction bump once.
    """
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        for _sids, func, _robust in connection.run_on_commit:
            if isinstance(func, _Bump):
                func.keys.update(version_keys)
                return
    transaction.on_commit(_Bump(version_keys), using=using)


# Which version keys a change to a model's row makes stale. ``versions_for(None)`` answers
# for a bulk change whose rows are unknown (``QuerySet.update``): it must be the coarse set.
_registry: dict[type, Callable[[Any], Iterable[str]]] = {}
_strict: set[type] = set()


def invalidate_on_change(model: type, versions_for: Callable[[Any], Iterable[str]], *, strict: bool = False) -> None:
    """Bump ``versions_for(row)`` on commit of every save and delete of ``model``.

    Signals catch every instance write (admin, API, commands, shell, cascades); bulk writes
    that send no signals go through ``InvalidatingQuerySet``. This is cache bookkeeping, not
    a business rule, so it lives here rather than in every service. ``strict``: changes to
    existing rows are refused unless the cache can be told first (``mark_changing``).
    """
    _registry[model] = versions_for

    def changed(sender, instance, using, **kwargs):
        bump_on_commit(*versions_for(instance), using=using)

    uid = f"radiant.cache:{model._meta.label}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid)
    if strict:
        _strict.add(model)

        def changing(sender, instance, raw=False, **kwargs):
            if not raw and not instance._state.adding:  # a new row is cached nowhere yet
                mark_changing(*versions_for(instance))

        pre_save.connect(changing, sender=model, weak=False, dispatch_uid=uid)
        pre_delete.connect(changing, sender=model, weak=False, dispatch_uid=uid)


class InvalidatingQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes (which send no signals) invalidate like single writes."""

    def _invalidate(self, rows):
        versions_for = _registry[self.model]
        keys = set()
        for row in rows:
            keys.update(versions_for(row))
        if keys:
            bump_on_commit(*keys, using=self.db)

    def update(self, **kwargs):
        if self.model in _strict:
            mark_changing(*_registry[self.model](None))
        # Bulk writes send no model signals: the audit log hears of them this way.
        count = signals.bulk_update(self, kwargs, lambda: super(InvalidatingQuerySet, self).update(**kwargs))
        if count:
            self._invalidate([None])
        return count

    update.alters_data = True

    def update_untracked(self, **kwargs):
        """A bulk write to fields no cached entry depends on (e.g. a last-used timestamp)."""
        return super().update(**kwargs)

    update_untracked.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._invalidate(created)
        return created

    bulk_create.alters_data = True
    # bulk_update() runs through update() above.
