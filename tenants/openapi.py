"""How the OpenAPI schema describes our own pieces. Imported by drf-spectacular when it
builds a schema (the preprocessing hook below), never at start-up."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <key>`` (tenants.auth.ApiKeyAuthentication)."""

    target_class = "tenants.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer rad_…`."}


def preprocess(endpoints, **kwargs):
    """Registered as a preprocessing hook so this module (and its extensions) is loaded
    before any endpoint is described."""
    return endpoints
