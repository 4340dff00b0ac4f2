"""The JSON log formatter: python-json-logger's orjson formatter, fields laid out once.

Every record becomes one JSON object: ``level``, ``logger``, ``message``, the fields of a
dict message, every ``extra`` attribute (the request id, from
``radiant.request_context.RequestIdLogFilter``), ``exc_info`` when there is one, and
``timestamp`` (ISO 8601, UTC). The request log's lines (``radiant/request_log.py``) are laid
out the same way. ``add_fields`` is the library's extension point for the layout; this one
does what its generic version does for this configuration without a rename lookup per field.
Importing it must not import Django (logging is configured while settings load).
"""

from datetime import UTC, datetime

from pythonjsonlogger.core import merge_record_extra
from pythonjsonlogger.orjson import OrjsonFormatter


class JsonFormatter(OrjsonFormatter):
    def __init__(self, **kwargs):
        super().__init__("%(levelname)s %(name)s %(message)s", **kwargs)

    def add_fields(self, log_data, record, message_dict):
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data.update(message_dict)
        merge_record_extra(record, log_data, reserved=self._skip_fields)
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC)
