"""Session engine for the services mode: Django's cache sessions under DESIGN.md §6's prefix.

DESIGN names the key ``session:{tenant_id}:{user_id}``, but a Django session is found by
its random session key (the secret the cookie carries), and operators signing in to the
admin are not tenant-bound; so the key is ``session:<session key>``, with the 24 h TTL.
"""

from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore

from radiant import cache_keys


class SessionStore(CacheSessionStore):
    cache_key_prefix = cache_keys.SESSION_PREFIX
