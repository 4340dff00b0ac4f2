"""API-key authentication and the tenant permission (kept apart from the views module:
DRF imports its default authentication classes while rest_framework.views loads)."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from radiant import throttling
from radiant.problems import TenantSuspended


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``. Sets ``request.user`` to a ``TenantPrincipal``."""

    keyword = "Bearer"

    def authenticate(self, request):
        from tenants.selectors import api_key_authenticate

        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            throttling.ip_failure(request)  # anonymous requests cost their address
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            throttling.ip_failure(request)
            raise exceptions.AuthenticationFailed("Malformed Authorization header; expected 'Bearer <key>'.")
        # Only keys that fail to authenticate are charged to the address; a guessed key fails
        # its check before any lookup (tenants/selectors.py). A remembered key is confirmed
        # in the round trip of the throttle check.
        try:
            authenticated = api_key_authenticate(parts[1], confirm=throttling.confirmer(request))
        except exceptions.AuthenticationFailed:
            throttling.ip_failure(request)
            raise
        return authenticated.principal, authenticated

    def authenticate_header(self, request):
        return self.keyword


class IsTenant(BasePermission):
    """An authenticated tenant whose status allows API use."""

    def has_permission(self, request, view):
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            raise exceptions.NotAuthenticated("Authentication credentials were not provided.")
        if principal.status != "active":
            raise TenantSuspended("This tenant is suspended. Contact support to reactivate it.")
        return True
