from django.contrib.auth import get_user_model
from django.db import transaction

from radiant.commands import JsonCommand
from tenants.models import Membership, Tenant, Tier
from tenants.services import api_key_create, tier_seed

DEMO_TENANTS = [
    ("acme", "Acme Corporation", "professional"),
    ("globex", "Globex Inc.", "free"),
]


class Command(JsonCommand):
    help = (
        "Idempotent demo data: the seed tiers, two tenants, an admin user (admin/admin) and, "
        "with --with-key, a fresh API key for the first tenant."
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
        # --- catalog, configuration and translations (issue 3) ---
        from configuration.seed import config_seed
        from localization.seed import i18n_seed
        from models_catalog.seed import catalog_seed

        self.progress(f"models: {catalog_seed()}, config entries: {config_seed()}, languages: {i18n_seed()}")
        # --- end issue 3 ---
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            admin.set_password("admin")
            admin.save()
            self.progress("admin user: admin / admin (change it)")
        Membership.all_tenants.get_or_create(tenant=tenants[0], user=admin, defaults={"role": Membership.Role.OWNER})
        result = {"tenants": [t.slug for t in tenants], "admin": "admin"}
        if with_key:
            key, raw = api_key_create(tenant=tenants[0], name="demo")
            result.update({"key": raw, "prefix": key.prefix, "tenant": tenants[0].slug})
        return result
