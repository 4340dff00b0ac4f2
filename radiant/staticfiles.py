"""Static files storages whose URLs follow the request's script prefix (API Gateway stage).

Zappa sets SCRIPT_NAME to "/<stage>" for requests to the execute-api host, so the admin's
CSS must be linked as ``/dev/static/...`` there and as ``/static/...`` behind a custom domain.
WhiteNoise serves the files either way (it matches PATH_INFO, which has the prefix stripped).
"""

from django.contrib.staticfiles import storage as django_storage
from django.urls import get_script_prefix
from whitenoise import storage as whitenoise_storage


class _ScriptPrefixMixin:
    """Prefix static URLs with the current request's script prefix.

    ``settings.STATIC_URL`` is read once per process (Django caches it with the prefix of
    that moment), so it cannot follow the prefix of each request; this does.
    """

    def url(self, name):
        url = super().url(name)
        prefix = get_script_prefix()
        if prefix != "/" and url.startswith("/") and not url.startswith(prefix):
            url = prefix.rstrip("/") + url
        return url


class StaticFilesStorage(_ScriptPrefixMixin, django_storage.StaticFilesStorage):
    pass


class CompressedStaticFilesStorage(_ScriptPrefixMixin, whitenoise_storage.CompressedStaticFilesStorage):
    pass
