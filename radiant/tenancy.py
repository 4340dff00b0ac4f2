"""Tenant context: who the current tenant is, and how the database is told.

One mechanism for the whole code base (DESIGN.md §4):

- ``tenant_scope(tenant_id)`` is a context manager. Inside it ``current_tenant_id()``
  answers, the tenant-owned managers filter by it, and (on PostgreSQL) every query is
  routed to the ``tenant`` alias, which logs in as the RLS-bound web role.
- The database learns the tenant lazily, on the first query of each transaction, through
  ``set_config(..., true)``: transaction-local, so it can never outlive the transaction and
  leak to the next request on a reused, pooled or proxied connection. A scope that needs the
  database opens one transaction for its queries and commits it (or rolls it back) on exit.
  A scope that is answered from the cache sends nothing to the database at all.
- The tenant id is sent with a signature the web role cannot forge: the RLS policies trust
  it only when it matches a secret only the owner can read, so ``set_config()`` by SQL
  cannot switch tenants. The signature covers the server's name for the transaction
  (``set_context``), so one that is seen anywhere is worthless in any other transaction.
- Outside a scope there is no tenant: the tenant-owned managers raise instead of returning
  every tenant's rows. Operator code crosses tenants through the explicitly named
  ``Model.all_tenants`` manager on the operator alias.
"""

from __future__ import annotations

import hashlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, models, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver

OPERATOR_DB = "default"


class TenantContextError(RuntimeError):
    """Tenant-owned data was touched without a tenant, or a scope was misused."""


class OperatorDatabaseForbidden(RuntimeError):
    """Code inside a tenant scope tried to use the operator database alias."""


@dataclass(eq=False)
class _Scope:
    tenant_id: uuid.UUID
    rollback: bool = False
    transaction: transaction.Atomic | None = None


_current: ContextVar[_Scope | None] = ContextVar("radiant_tenant_scope", default=None)


def current_tenant_id() -> uuid.UUID | None:
    scope = _current.get()
    return scope.tenant_id if scope else None


def require_tenant_id() -> uuid.UUID:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantContextError("no tenant context: tenant-owned data needs tenant_scope()")
    return tenant_id


def tenant_db() -> str:
    """The alias tenant-scoped queries run on: the RLS-bound role where there is one."""
    return settings.TENANT_DB_ALIAS


def db_alias() -> str:
    """The alias for the code running now: tenant alias in a scope, operator outside."""
    return tenant_db() if _current.get() else OPERATOR_DB


def atomic(**kwargs):
    """transaction.atomic on the alias the current code actually writes to."""
    return transaction.atomic(using=db_alias(), **kwargs)


def on_commit(func):
    """transaction.on_commit on the alias the current code actually writes to."""
    transaction.on_commit(func, using=db_alias())


def mark_rollback():
    """Roll back the current scope's transaction when it ends (the request failed)."""
    scope = _current.get()
    if scope is not None:
        scope.rollback = True


def commit_scope_transaction() -> None:
    """Commit what the current scope's queries did so far; the next query opens a new
    transaction (with the context set again). For work other requests must see before
    this one ends, without holding its row locks meanwhile: a credit hold taken before a
    model call that may last a minute."""
    scope = _current.get()
    if scope is None or scope.transaction is None:
        return
    held, scope.transaction = scope.transaction, None
    if scope.rollback:
        transaction.set_rollback(True, using=held.using)
    held.__exit__(None, None, None)


def lend_connection_back() -> None:
    """Between transactions, give the current alias's connection back to its pool (the next
    query takes one again): for a request that waits on something else for long (a model
    call), so a thread-per-request server does not hold a pooled connection per waiting
    request. Persistent connections (no pool: Lambda) are kept."""
    connection = connections[db_alias()]
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()


def context_signature(tenant_id: uuid.UUID | str, challenge: str) -> str:
    """sha256(secret || tenant id "/" challenge || secret), as radiant_current_tenant()
    recomputes it. ``challenge`` names one transaction on one connection (radiant/rls.py)."""
    secret = settings.RLS_CONTEXT_SECRET
    return hashlib.sha256(secret + f"{tenant_id}/{challenge}".encode() + secret).hexdigest()


_CHALLENGE_SQL = "SELECT public.radiant_tenant_challenge()"
# psycopg opens a transaction with BEGIN on its own, one round trip before the first
# statement; sent in the same message as the challenge, the two cost one.
_BEGIN_WITH_CHALLENGE = b"BEGIN; " + _CHALLENGE_SQL.encode()
_SET_CONTEXT_SQL = (
    "SELECT set_config('app.current_tenant_id', %s, true),"
    " set_config('app.tenant_signature', %s, true)"
)


def _begin_with_challenge(raw) -> str:
    """Open the transaction and read its challenge in one round trip (libpq's simple query
    protocol: no parameters, so nothing secret travels in it)."""
    import psycopg
    from psycopg import pq

    with raw.lock:
        result = raw.pgconn.exec_(_BEGIN_WITH_CHALLENGE)
    if result.status != pq.ExecStatus.TUPLES_OK:
        if raw.pgconn.status == pq.ConnStatus.BAD:  # a dropped backend: no SQLSTATE to go by
            raise psycopg.OperationalError(result.get_error_message())
        raise psycopg.errors.error_from_result(result)
    return result.get_value(0, 0).decode()


def _challenge(raw) -> str:
    """The challenge of the transaction ``raw`` is in, opening one if none is open."""
    if raw.info.transaction_status == _idle() and not raw.autocommit:
        return _begin_with_challenge(raw)
    import psycopg

    with psycopg.Cursor(raw) as cursor:
        cursor.execute(_CHALLENGE_SQL, prepare=False)
        return cursor.fetchone()[0]


def _send_context(raw, tenant_id, challenge: str) -> None:
    import psycopg

    tenant = str(tenant_id)
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(_SET_CONTEXT_SQL, (tenant, context_signature(tenant, challenge)), prepare=False)


def set_context(raw, tenant_id: uuid.UUID | str) -> None:
    """Tell PostgreSQL, on the psycopg connection ``raw``, that the transaction it is in (or
    starts now) runs as ``tenant_id``.

    The server names the transaction (its challenge; read with the BEGIN when the
    transaction starts here), then the signed context is set for it, with server-side
    binding, so neither the tenant id nor the signature appears in the statement text other
    sessions see.
    """
    _send_context(raw, tenant_id, _challenge(raw))


def _set_context_on_first_query(execute, sql, params, many, context):
    """Execute wrapper on the tenant alias: inside a scope, opens the scope's transaction and
    sets the context (outside one a query runs without: RLS then shows it no row).

    The context and the transaction's first statement travel together (psycopg's pipeline
    mode: both are sent, then both answers read), so a transaction that reads or writes
    once costs the round trips of its BEGIN with the challenge, that pair, and its COMMIT.
    """
    scope = _current.get()
    if scope is None:
        return execute(sql, params, many, context)
    connection = context["connection"]
    if not connection.in_atomic_block:
        # Autocommit would end the transaction-local context with this very statement:
        # hold one transaction for the rest of the scope.
        scope.transaction = transaction.atomic(using=connection.alias)
        scope.transaction.__enter__()
    raw = connection.connection
    if raw.info.transaction_status != _idle():
        return execute(sql, params, many, context)
    # A new transaction starts with this statement: the context comes first. (Errors as
    # Django's own, so a dropped connection is seen as one.)
    with connection.wrap_database_errors:
        challenge = _challenge(raw)
        if _is_server_cursor(context["cursor"]):  # DECLARE ... cannot be pipelined
            _send_context(raw, scope.tenant_id, challenge)
            return execute(sql, params, many, context)
        with raw.pipeline():
            _send_context(raw, scope.tenant_id, challenge)
            return execute(sql, params, many, context)


def _guard(connection) -> None:
    """Give ``connection`` its wrapper: the tenant alias sets the context, the operator alias
    refuses to run inside a scope. Nothing when there is one alias (no RLS-bound role)."""
    tenant = tenant_db()
    if tenant == OPERATOR_DB:
        return
    if connection.alias == tenant:
        wrapper = _set_context_on_first_query
    elif connection.alias == OPERATOR_DB:
        wrapper = _refuse_operator_alias_in_scope
    else:
        return
    if wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(wrapper)


@receiver(connection_created)
def _connection_created(sender, connection, **kwargs):
    # Before the connection's first statement. The wrappers stay on it; a scope is only the
    # context variable they read.
    _guard(connection)



def _is_server_cursor(cursor) -> bool:
    import psycopg

    return isinstance(getattr(cursor, "cursor", cursor), psycopg.ServerCursor)


def _refuse_operator_alias_in_scope(execute, sql, params, many, context):
    """Execute wrapper on the operator alias: nothing runs there inside a tenant scope."""
    if _current.get() is not None:
        raise OperatorDatabaseForbidden("the operator database alias cannot be used inside a tenant scope")
    return execute(sql, params, many, context)


def _idle():
    # psycopg is only needed on PostgreSQL, and is imported with its backend by then; not at
    # module import (Lambda cold start).
    from psycopg.pq import TransactionStatus

    return TransactionStatus.IDLE


class tenant_scope:
    """Run the enclosed code as one tenant. Not re-entrant: tenants are never switched."""

    def __init__(self, tenant_id: uuid.UUID | str):
        self.tenant_id = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))

    def __enter__(self):
        # Only the context variable: the connections' wrappers (below) read it when a query
        # runs, so a scope answered from the cache costs nothing more.
        if _current.get() is not None:
            raise TenantContextError("already inside a tenant scope; scopes do not nest")
        self.scope = _Scope(self.tenant_id)
        self.token = _current.set(self.scope)
        return self.scope

    def __exit__(self, exc_type, exc, tb):
        try:
            held = self.scope.transaction
            if held is not None:
                if self.scope.rollback and exc_type is None:
                    transaction.set_rollback(True, using=held.using)
                held.__exit__(exc_type, exc, tb)
        finally:
            _current.reset(self.token)
        return False


class TenantRouter:
    """Inside a tenant scope every query goes to the RLS-bound alias; outside, to the operator."""

    def db_for_read(self, model, **hints):
        return tenant_db() if _current.get() else OPERATOR_DB

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == OPERATOR_DB


# --- models -----------------------------------------------------------------------------


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Rows of the current tenant only; raises outside a tenant scope (fails closed)."""

    def get_queryset(self):
        return super().get_queryset().filter(tenant_id=require_tenant_id())


class TenantOrGlobalManager(models.Manager.from_queryset(TenantQuerySet)):
    """For tables with global rows (tenant_id NULL): global rows plus the current tenant's."""

    def get_queryset(self):
        return super().get_queryset().filter(
            models.Q(tenant_id__isnull=True) | models.Q(tenant_id=require_tenant_id())
        )


class TenantOwned(models.Model):
    """A row that belongs to one tenant. RLS on PostgreSQL, scoped managers everywhere.

    ``objects`` is scoped to the current tenant and raises outside a scope: application code
    uses it. ``all_tenants`` is the operator's view, and Django's own machinery (admin,
    model forms, inline formsets) gets it as the default manager; inside a tenant scope on
    PostgreSQL even it is bound by RLS, since every query there runs as the web role.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")

    # What the web role may do with the table (see radiant/db_roles.py).
    web_privileges = "SELECT, INSERT, UPDATE, DELETE"

    objects = TenantManager()
    all_tenants = models.Manager()

    class Meta:
        abstract = True
        default_manager_name = "all_tenants"


for _open in connections.all(initialized_only=True):  # opened before this module was loaded
    _guard(_open)
