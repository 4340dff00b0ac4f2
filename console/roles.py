"""The console's roles, as Django groups: give an operator one (or several) in the admin.

- **Support**: sees every page of the platform's apps (tenants, usage, credits, the audit
  log, configuration, catalog, keys) and changes nothing: view permissions only.
- **Operator**: runs the platform: every permission on the platform's apps, the ledger's
  manual entries included (the ledger itself stays append-only: no one may change or delete
  a row, whatever their permissions). Users, groups and sign-in lockouts stay with
  superusers; operators may see them.

Kept in step after every ``migrate`` (and after the test runner's ``flush``), so a new
model's permissions reach the roles as soon as its table exists. Permissions added to a
group by hand stay; only the role's own set is added.
"""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

SUPPORT = "Support"
OPERATOR = "Operator"

# The platform's own apps: what operators run.
PLATFORM_APPS = ["tenants", "models_catalog", "configuration", "localization", "billing", "audit", "console"]
# Seen by both roles, changed by superusers only.
SEEN_APPS = ["auth", "axes"]


def _installed(labels):
    present = {config.label for config in apps.get_app_configs()}
    return [label for label in labels if label in present]


def roles_ensure(using: str = "default") -> None:
    for config in apps.get_app_configs():  # permissions first: they may not exist yet
        create_permissions(config, verbosity=0, using=using)
    permissions = Permission.objects.using(using).select_related("content_type")
    platform = permissions.filter(content_type__app_label__in=_installed(PLATFORM_APPS))
    views = permissions.filter(
        content_type__app_label__in=_installed(PLATFORM_APPS + SEEN_APPS), codename__startswith="view_",
    )
    support, _ = Group.objects.using(using).get_or_create(name=SUPPORT)
    support.permissions.add(*views)
    operator, _ = Group.objects.using(using).get_or_create(name=OPERATOR)
    operator.permissions.add(*platform, *views)


def on_post_migrate(sender, using="default", **kwargs):
    if sender.name != "console":  # the last app: every other app's tables exist by now
        return
    roles_ensure(using)
