"""Keep every dynamic response out of shared caches (CloudFront, proxies, API Gateway).

Answers depend on the caller: the API's on the API key (and its tenant, limits and key state),
the admin's on the operator's session cookie. A shared cache keyed by path alone would hand
one caller's answer to another, or replay a revoked key's 200 and stale rate-limit headers.
So, outermost in ``MIDDLEWARE``, after every view and middleware has set its headers:

- the admin: ``private, no-store`` (operator pages are never stored anywhere);
- everything else but static files: ``private`` added to whatever ``Cache-Control`` the view
  set (the API's ETag rules keep their ``max-age`` and ``stale-while-revalidate`` for the
  client's own cache, and ``public`` is dropped), or ``private, no-store`` when it set none;
- static files (``STATIC_URL``, hashed names, the same for everyone): left as WhiteNoise sends
  them, so CloudFront may cache them.

CloudFront's cache policy for these paths has caching disabled too (the stack template);
this header is what makes it safe whatever sits in front.
"""

from django.conf import settings
from django.utils.cache import patch_cache_control


class PrivateResponsesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}"

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path_info  # without API Gateway's stage prefix
        if path.startswith(self.static_prefix):
            return response
        cache_control = response.headers.get("Cache-Control")
        if cache_control is not None and cache_control.startswith("private, max-age=") and not path.startswith("/admin/"):
            return response  # the API's conditional GETs (radiant/conditional.py): private already
        if path.startswith("/admin/") or cache_control is None:
            patch_cache_control(response, private=True, no_store=True)
        else:
            patch_cache_control(response, private=True)
        return response
