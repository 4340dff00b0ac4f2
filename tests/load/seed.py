"""Tenants for a load run: every tier, an API key each, credits when billing has them.

    python -m tests.load.seed --out build/load/tenants.json [--per-tier 2]

Runs where ``manage.py`` runs (``DATABASE_URL`` of the target). Each run makes new tenants
(slugs ``load-<run>-<tier>-<n>``), so a daily quota used by an earlier run never refuses
this one. Besides ``--per-tier`` tenants of each tier it makes the over-limit tenants: a
free one (10 requests/s) the load drives far faster, and one with a daily quota of 20.
The file holds raw API keys: it is written readable by its owner only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

TIERS = ("free", "starter", "professional", "business", "enterprise")
CREDITS = "1000000"
OVER_LIMIT_DAILY = 20


def seed(*, per_tier: int, run_id: str) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radiant.settings")
    django.setup()
    from django.core.management import call_command, get_commands

    from configuration.seed import config_seed
    from localization.models import Language
    from localization.seed import i18n_seed
    from models_catalog.seed import catalog_seed
    from tenants.services import api_key_create, tenant_create, tier_seed

    tier_seed()
    catalog_seed(), config_seed(), i18n_seed()
    from models_catalog.models import AIModel

    models = list(
        AIModel.all_tenants.filter(tenant__isnull=True, is_enabled=True, status="active").values_list("slug", flat=True)
    )
    languages = list(Language.objects.values_list("code", flat=True)) or ["en"]
    grants = "grant_credits" in get_commands()

    def make(slug, tier, **limits):
        tenant = tenant_create(slug=slug, name=slug, tier=tier, **limits)
        _, key = api_key_create(tenant=tenant, name="load test")
        if grants:
            call_command("grant_credits", tenant=slug, amount=CREDITS, reason="load test", stdout=open(os.devnull, "w"))
        return {"slug": slug, "tier": tier, "key": key, "models": models,
                "language": languages[len(slug) % len(languages)]}

    tenants = [make(f"load-{run_id}-{tier}-{n}", tier) for tier in TIERS for n in range(per_tier)]
    over = [
        {**make(f"load-{run_id}-over-rate", "free"), "limit": "rate"},
        {**make(f"load-{run_id}-over-daily", "free", daily=OVER_LIMIT_DAILY), "limit": "daily"},
    ]
    return {"run": run_id, "tenants": tenants, "over_limit": over, "credits_granted": grants}


def write(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/load/tenants.json")
    parser.add_argument("--per-tier", type=int, default=2)
    args = parser.parse_args(argv)
    data = seed(per_tier=args.per_tier, run_id=uuid.uuid4().hex[:8])
    write(data, Path(args.out))
    print(json.dumps({"tenants": len(data["tenants"]), "over_limit": len(data["over_limit"]), "file": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
