"""Demo routing for seed_demo: the built-in echo provider serves every demo chat, code and
embedding model, so chat/completions and embeddings answer with no key and no network.
Routes an operator has pointed elsewhere are kept."""

from gateway.models import ModelRoute, Provider
from models_catalog.models import AIModel

SERVED = ("chat", "code", "embedding")


def gateway_seed() -> int:
    """Create the echo provider and the missing routes. Returns how many routes exist."""
    echo, _ = Provider.objects.get_or_create(
        slug="echo", defaults={"kind": Provider.Kind.ECHO, "timeout_seconds": 5, "max_retries": 0},
    )
    for model in AIModel.all_tenants.filter(tenant__isnull=True, category__in=SERVED):
        ModelRoute.objects.get_or_create(model=model, defaults={"provider": echo})
    return ModelRoute.objects.count()
