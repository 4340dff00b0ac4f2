import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from billing.models import CreditAccount
from billing.services import credits_grant
from configuration.seed import config_seed
from gateway.seed import gateway_seed
from localization.seed import i18n_seed
from models_catalog.seed import catalog_seed
from radiant.commands import JsonCommand
from tenants.models import Membership, Tenant, Tier
from tenants.services import api_key_create, tier_seed

DEMO_TENANTS = [
    ("acme", "Acme Corporation", "professional"),
    ("globex", "Globex Inc.", "free"),
]


class Command(JsonCommand):
    help = (
        "Idempotent demo data: the seed tiers, two tenants, an admin user (admin/admin; in "
        "production a random password, printed once) and, with --with-key, a fresh API key "
        "for the first tenant."
    )

    def add_arguments(self, parser):
        parser.add_argument("--with-key", action="store_true", help="create and print a new API key for acme")

    @transaction.atomic
    def run(self, *, with_key, **_):
        tier_seed()
        tenants = []
        for slug, name, tier in DEMO_TENANTS:
            tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name, "tier": Tier.objects.get(name=tier)})
            tenants.append(tenant)
        self.progress(f"tiers: {Tier.objects.count()}, demo tenants: {len(tenants)}")
        self.progress(f"models: {catalog_seed()}, config entries: {config_seed()}, languages: {i18n_seed()}")
        self.progress(f"models served by the gateway: {gateway_seed()} (the built-in echo provider)")
        if not CreditAccount.all_tenants.filter(tenant=tenants[0]).exists():
            # Enough for the demo's model calls (chat/completions, embeddings) to be charged.
            credits_grant(tenant=tenants[0], amount="100", reason="demo credits", operator="seed_demo")
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        result = {"tenants": [t.slug for t in tenants], "admin": "admin"}
        if created:
            # A deployed stage never gets a password anyone could know: a random one, shown
            # this once. Development keeps admin/admin, which `make run` prints.
            password = secrets.token_urlsafe(18) if settings.PRODUCTION else "admin"
            admin.set_password(password)
            admin.save()
            if settings.PRODUCTION:
                result["password"] = password
                self.progress("admin user: admin, with the password in this output (shown once)")
            else:
                self.progress("admin user: admin / admin (change it)")
        Membership.all_tenants.get_or_create(tenant=tenants[0], user=admin, defaults={"role": Membership.Role.OWNER})
        if with_key:
            key, raw = api_key_create(tenant=tenants[0], name="demo")
            result.update({"key": raw, "prefix": key.prefix, "tenant": tenants[0].slug})
        return result
