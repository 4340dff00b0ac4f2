"""Liveness and readiness for load balancers and the SRE (DESIGN.md §1)."""

import logging
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from radiant import tenancy

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    """The process is alive. No I/O."""
    return JsonResponse({"status": "ok"})


def _check_database():
    with connections[tenancy.OPERATOR_DB].cursor() as cursor:
        cursor.execute("SELECT 1")
    if tenancy.tenant_db() != tenancy.OPERATOR_DB:
        # The web role can log in, and the database accepts our signed tenant context.
        probe = uuid.uuid4()
        with connections[tenancy.tenant_db()].cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                tenancy.set_context(cursor.connection, probe)
                cursor.execute("SELECT public.radiant_current_tenant()")
                (seen,) = cursor.fetchone()
            finally:
                cursor.execute("ROLLBACK")
        if seen != probe:
            raise RuntimeError("RLS context secret out of sync: run manage.py migrate")


def _check_cache():
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


@never_cache
def readyz(request):
    """Dependencies reachable: database (both roles) and cache."""
    checks = {}
    for name, check in (("database", _check_database), ("cache", _check_cache)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc.__class__.__name__)
            checks[name] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
