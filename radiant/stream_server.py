"""The AI proxy function's HTTP server on Lambda (``radiant/ai_proxy.sh``): the WSGI app on
127.0.0.1, one request at a time, each response written as the app yields it.

A Lambda container serves one request at a time, so the standard library's WSGI server is
all it takes (no gunicorn in the package): the Lambda Web Adapter in front of it turns the
function URL's events into requests and streams each response's bytes back as they come,
which is what a server-sent event stream from ``chat/completions`` needs.
"""

from __future__ import annotations

import os
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args):  # the app writes its own request log line
        pass


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radiant.settings")
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    port = int(os.environ.get("AWS_LWA_PORT", "8080"))
    with make_server("127.0.0.1", port, application, server_class=WSGIServer, handler_class=_QuietHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
