"""logfmt logging: one line per event, ``key=value`` pairs a human can read and a tool can parse.

Call sites pass structured fields with ``extra={"fields": {...}}``; the formatter quotes values
that need it. ``configure`` is called once by each runner's ``main()``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any


def _value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def logfmt(**fields: Any) -> str:
    """Render ``fields`` as ``k=v k2="v 2"``; None values are left out."""
    return " ".join(f"{key}={_value(val)}" for key, val in fields.items() if val is not None)


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=kafka.consumer msg="batch applied" topic=orders rows=500``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record, its ``fields`` and, if any, its exception on one line."""
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}))
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return logfmt(**fields)


def configure(level: str | int = "INFO") -> None:
    """Send every logger's records to stderr as logfmt."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
