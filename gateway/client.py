"""The one HTTP client every provider call goes through: httpx, connections kept alive.

One ``httpx.Client`` per process (created on first use, and again in a forked child so no
two processes share a socket), safe to share between threads. Connections to a provider
are reused across calls (keep-alive), so a call pays for TLS and TCP set-up once per
connection, not once per call. Timeouts are per provider and given with each request.
"""

from __future__ import annotations

import os
import threading

import httpx

# A gunicorn worker serves one request at a time per thread; a Lambda container one. These
# bound what one process keeps open to all providers together.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE = 32
KEEPALIVE_SECONDS = 30.0

_lock = threading.Lock()
_client: httpx.Client | None = None
_pid = None


def http() -> httpx.Client:
    global _client, _pid
    client = _client
    if client is not None and _pid == os.getpid():
        return client
    with _lock:
        if _client is None or _pid != os.getpid():
            _client = httpx.Client(
                limits=httpx.Limits(
                    max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
                # Providers are called by their configured URL; nothing in the environment
                # (HTTP_PROXY, a .netrc) should change where a call or its key goes.
                trust_env=False,
                follow_redirects=False,
            )
            _pid = os.getpid()
        return _client


def timeout(*, read: float, connect: float) -> httpx.Timeout:
    """``read``: how long the provider may stay silent, before its answer or between two
    streamed chunks; ``connect``: how long a new connection may take."""
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def reset() -> None:
    """Close the client (tests that restart an upstream; a worker shutting down)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
