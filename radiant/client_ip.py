"""The address a request came from, as the rate limiter and the admin's lockouts see it.

The client address is ``REMOTE_ADDR`` unless ``TRUSTED_PROXY_COUNT`` says how many proxies in
front of the app append to ``X-Forwarded-For`` (see ``client_ip``). IPv6 clients are counted
per /64, the block one subscriber usually holds. On Lambda, ``REMOTE_ADDR`` is what API
Gateway saw (radiant/lambda_gateway.py).
"""

import ipaddress

from django.conf import settings


def _address(value: str | None) -> str | None:
    """A canonical client address, IPv6 reduced to its /64; None if ``value`` is not one."""
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_ip(request) -> str:
    """The address a request came from.

    ``TRUSTED_PROXY_COUNT`` = N > 0 means N proxies in front of the app each append the
    address they saw to ``X-Forwarded-For``: the client is the Nth entry from the right
    (entries left of it are whatever the client sent, and are ignored). With 0 (default)
    ``X-Forwarded-For`` is ignored. A header with fewer than N entries, or whose Nth entry is
    not an IP address, falls back to ``REMOTE_ADDR``.
    """
    meta = request.META
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted > 0:
        hops = meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(hops) >= trusted:
            address = _address(hops[-trusted])
            if address:
                return address
    return _address(meta.get("REMOTE_ADDR")) or "unknown"


def client_ip_address(request) -> str | None:
    """``client_ip`` as one address (an IPv6 client's /64 by its first address), None if
    unknown: for records that store an address, such as the admin's sign-in lockouts."""
    address = client_ip(request)
    if address == "unknown":
        return None
    return address.split("/", 1)[0]
