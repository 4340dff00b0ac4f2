"""Cache plan and invalidation of translation bundles (DESIGN.md §6; the machinery:
radiant/cache.py, radiant/invalidation.py).

Bundles are global (the same for every tenant) and depend on one token: a change to any
translation or language replaces it, since a default-language edit changes every bundle.
"""

from radiant import cache, cache_keys, invalidation
from radiant.conditional import HttpPolicy

HTTP = HttpPolicy(max_age=300, stale_while_revalidate=3600)


def i18n_bundle_plan(*, language) -> cache.Plan:
    return cache.Plan(
        key=cache_keys.i18n_bundle(language), versions=(cache_keys.i18n_version(),),
        ttl=cache_keys.I18N_TTL, http=HTTP,
    )


def register() -> None:
    from localization.models import Language, Translation

    for model in (Language, Translation):
        invalidation.invalidate_on_change(model, lambda row: (cache_keys.i18n_version(),))
