"""The app under AWS API Gateway + Lambda (Zappa): the client address.

Zappa's handler (``zappa.handler.LambdaHandler``) turns each API Gateway REST event into a
WSGI environ and keeps the raw event in ``environ["lambda.event"]``. What it leaves to the
application is done here (and in radiant/staticfiles.py); a no-op outside Lambda.
"""

import ipaddress


def event_source_ip(event) -> str | None:
    """The client address API Gateway saw, from a REST (v1) or HTTP API (v2) event."""
    context = event.get("requestContext") or {}
    source = (context.get("identity") or {}).get("sourceIp") or (context.get("http") or {}).get("sourceIp")
    if not source:
        return None
    try:
        return str(ipaddress.ip_address(source))
    except ValueError:
        return None


class ApiGatewayClientIpMiddleware:
    """REMOTE_ADDR = the API Gateway source IP.

    Zappa sets REMOTE_ADDR from X-Forwarded-For (its second-to-last entry when there are
    several), and a client can put anything it likes at the front of that header; behind a
    regional endpoint the second-to-last entry *is* the client's own claim. The source IP in
    the request context is what API Gateway itself saw. Per-IP throttling depends on this.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        event = request.META.get("lambda.event")
        if event:
            source_ip = event_source_ip(event)
            if source_ip:
                request.META["REMOTE_ADDR"] = source_ip
        return self.get_response(request)
