"""Audit records for every write to the project's models, however it is made.

Model signals catch instance writes from anywhere (admin forms and actions, the API,
commands, tasks, the shell); ``radiant.signals.bulk_update_starting`` catches
``QuerySet.update`` on the models whose querysets send it (``InvalidatingQuerySet``). The
old values are read just before the write, on the same connection, so a record says
old -> new for each changed field. The ledger and idempotency keys are left out: a ledger
row *is* a record (and its services audit operator entries themselves), and a stored
response is not a change anyone made.
"""

from django.db.models.signals import post_delete, post_save, pre_save

from radiant.signals import bulk_update_starting

AUDITED_APPS = {"tenants", "models_catalog", "configuration", "localization", "billing", "gateway", "auth"}
NOT_AUDITED = {"billing.credittransaction", "billing.idempotencykey", "auth.permission"}
# Bookkeeping fields whose change alone is not worth a record.
QUIET_FIELDS = {"updated_at", "last_login", "last_used_at"}
BULK_ROWS_KEPT = 1000


def _audited(model) -> bool:
    meta = model._meta
    return meta.app_label in AUDITED_APPS and meta.label_lower not in NOT_AUDITED and not meta.proxy


def _fields(model):
    return [f.attname for f in model._meta.concrete_fields]


def _snapshot(instance) -> dict:
    return {name: getattr(instance, name) for name in _fields(type(instance))}


def _record(action, instance, changes):
    from audit.services import audit_record

    tenant_id = instance.pk if instance._meta.label_lower == "tenants.tenant" else getattr(instance, "tenant_id", None)
    audit_record(action=action, obj=instance, tenant_id=tenant_id, changes=changes)


def _before_save(sender, instance, raw, using, **kwargs):
    if raw or not _audited(sender) or instance._state.adding or instance.pk is None:
        instance._audit_before = None
        return
    instance._audit_before = (
        sender._base_manager.using(using).filter(pk=instance.pk).values(*_fields(sender)).first()
    )


def _after_save(sender, instance, created, raw, using, update_fields=None, **kwargs):
    if raw or not _audited(sender):
        return
    new = _snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        changes = {k: [None, v] for k, v in new.items() if v not in (None, "") and k not in QUIET_FIELDS}
        _record(f"{sender._meta.model_name}.create", instance, changes)
        return
    changes = {k: [before.get(k), v] for k, v in new.items() if before.get(k) != v and k not in QUIET_FIELDS}
    if changes:
        _record(f"{sender._meta.model_name}.update", instance, changes)


def _after_delete(sender, instance, using, **kwargs):
    if not _audited(sender):
        return
    changes = {k: [v, None] for k, v in _snapshot(instance).items() if v not in (None, "") and k not in QUIET_FIELDS}
    _record(f"{sender._meta.model_name}.delete", instance, changes)


def _bulk_update(sender, queryset, values, **kwargs):
    if not _audited(sender):
        return None
    names = {f.name: f.attname for f in sender._meta.concrete_fields}
    fields = [names[k] for k in values if k in names and names[k] not in QUIET_FIELDS]
    if not fields:
        return None
    before = {row["pk"]: row for row in queryset.values("pk", *fields)[:BULK_ROWS_KEPT + 1]}

    def after(count):
        from audit.services import audit_record

        if not count:
            return
        manager = sender._base_manager.using(queryset.db)
        if len(before) > BULK_ROWS_KEPT:  # too many to list: one record for the statement
            audit_record(
                action=f"{sender._meta.model_name}.bulk_update", object_type=sender._meta.label_lower,
                object_id=f"{count} rows", changes={f: [None, values_repr(values, f)] for f in fields},
            )
            return
        for row in manager.filter(pk__in=list(before)):
            old = before[row.pk]
            changes = {f: [old[f], getattr(row, f)] for f in fields if old[f] != getattr(row, f)}
            if changes:
                _record(f"{sender._meta.model_name}.update", row, changes)

    return after


def values_repr(values, attname):
    for key, value in values.items():
        if key == attname or f"{key}_id" == attname:
            return str(value)
    return None


def connect():
    """Connect per audited model (not for every sender): other models' deletes stay fast
    deletes, and their saves pay nothing for the audit log."""
    from django.apps import apps

    for model in apps.get_models():
        if not _audited(model):
            continue
        uid = f"audit:{model._meta.label_lower}"
        pre_save.connect(_before_save, sender=model, weak=False, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, weak=False, dispatch_uid=uid)
        bulk_update_starting.connect(_bulk_update, sender=model, weak=False, dispatch_uid=uid)
