"""DRF content negotiation with a shortcut for what API clients actually send.

Nearly every request carries no ``Accept`` header, ``*/*`` (curl, most HTTP libraries) or
``application/json``; for those the answer is known without parsing anything: the view's
first renderer. Anything else (several types, parameters, quality values, ``?format=``)
goes through DRF's own negotiation unchanged, so a ``text/csv`` client still gets its 406.
"""

from rest_framework.negotiation import DefaultContentNegotiation

_ANY = frozenset({None, "*/*"})  # no header at all means any type (an empty one: DRF says 406)


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if not format_suffix and renderers:
            meta = request.META
            accept = meta.get("HTTP_ACCEPT")
            first = renderers[0]
            if (accept in _ANY or accept == first.media_type) and not (
                meta.get("QUERY_STRING") and self.settings.URL_FORMAT_OVERRIDE in request.query_params
            ):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
