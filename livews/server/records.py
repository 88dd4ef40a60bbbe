"""What the server logs about a connection, and a JSON formatter for machines.

Every record about one connection carries the same ``extra`` fields (``client_id``, ``path``, ``peer``; a
close adds ``code`` and ``duration``), so a log pipeline can follow one client without parsing messages.
``JsonFormatter`` writes one JSON object per line with those fields (``python -m livews --log-format json``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client

__all__ = ["FIELDS", "JsonFormatter", "connection_fields"]

#: The ``extra`` fields livews puts on its records, in the order ``JsonFormatter`` writes them.
FIELDS = ("client_id", "path", "peer", "code", "reason", "duration")


def connection_fields(client: Client) -> dict[str, Any]:
    """The ``extra`` of a record about ``client``."""
    return {"client_id": client.id, "path": client.path, "peer": f"{client.host}:{client.port}"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, livews' fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
