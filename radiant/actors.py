"""Who is acting (for the audit log): one ContextVar, set by the entry point of the work.

The API and the admin are resolved from the request (``ActorMiddleware``): the API
key's prefix once DRF has authenticated it, the operator's username in the admin. Commands
and tasks set their own name with ``acting_as``. Nothing set: the actor is "system".
"""

from contextlib import contextmanager
from contextvars import ContextVar

_request: ContextVar = ContextVar("radiant_audit_request", default=None)
_actor: ContextVar = ContextVar("radiant_audit_actor", default=None)


@contextmanager
def acting_as(actor_type: str, actor: str):
    token = _actor.set((actor_type, actor))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> tuple[str, str]:
    explicit = _actor.get()
    if explicit is not None:
        return explicit
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    prefix = getattr(user, "key_prefix", None)
    if prefix:
        return "api_key", prefix
    if user is not None and getattr(user, "is_authenticated", False):
        return "operator", user.get_username()
    return "system", ""


class ActorMiddleware:
    """Remembers the request being served so audit records can name who made it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
