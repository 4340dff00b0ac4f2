"""The console's roles, as Django groups: give an operator one (or several) in the admin.

- **Support**: sees every page of the platform's apps (tenants, usage, credits, the audit
  log, configuration, catalog, keys) and changes nothing: view permissions only.
- **Operator**: runs the platform: every permission on the platform's apps, the ledger's
  manual entries included (the ledger itself stays append-only: no one may change or delete
  a row, whatever their permissions). The audit log and usage are written by the platform
  alone; users, groups and sign-in lockouts stay with superusers. Operators see them all.

Kept in step after every ``migrate`` (and after the test runner's ``flush``), so a new
model's permissions reach the roles as soon as its table exists. Permissions added to a
group by hand stay; only the role's own set is added.
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

SUPPORT = "Support"
OPERATOR = "Operator"

# Seen by both roles and changed by no one (the audit log, usage) or by superusers only.
SEEN_APPS = ["audit", "console", "auth", "axes"]


def platform_apps() -> list[str]:
    """The project's own apps (tenants, catalog, configuration, credits, ... and any added
    later): what operators run."""
    root = Path(settings.BASE_DIR).resolve()
    return [
        config.label for config in apps.get_app_configs()
        if root in Path(config.path).resolve().parents and ".venv" not in Path(config.path).parts
        and config.label not in SEEN_APPS
    ]


def _installed(labels):
    present = {config.label for config in apps.get_app_configs()}
    return [label for label in labels if label in present]


def roles_ensure(using: str = "default", *, create_permissions_first: bool = True) -> None:
    if create_permissions_first:  # outside migrate they may not exist yet
        for config in apps.get_app_configs():
            create_permissions(config, verbosity=0, using=using)
    permissions = Permission.objects.using(using).select_related("content_type")
    platform = permissions.filter(content_type__app_label__in=platform_apps())
    views = permissions.filter(
        content_type__app_label__in=platform_apps() + _installed(SEEN_APPS), codename__startswith="view_",
    )
    support, _ = Group.objects.using(using).get_or_create(name=SUPPORT)
    support.permissions.add(*views)
    operator, _ = Group.objects.using(using).get_or_create(name=OPERATOR)
    operator.permissions.add(*platform, *views)


def on_post_migrate(sender, using="default", **kwargs):
    # Once, after the last app that is sent the signal (those with a models module).
    if sender is not [config for config in apps.get_app_configs() if config.models_module][-1]:
        return
    # Django's own handler has created every app's permissions by now (it runs first for
    # each app, the last one included).
    roles_ensure(using, create_permissions_first=False)
