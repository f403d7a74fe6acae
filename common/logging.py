"""Logs a person can read and a machine can parse: one logfmt line per record.

ts=2026-11-23T01:02:03.456Z level=info service=order-consumer-2 msg="batch applied" rows=500
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _value(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs; fields passed as ``extra={...}`` or ``extra={"fields": {...}}`` are appended."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        fields = {
            "ts": ts,
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}
        fields |= extra.pop("fields", None) or {}  # logger.info(msg, extra={"fields": {...}}) style
        fields |= extra
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return " ".join(f"{k}={_value(v)}" for k, v in fields.items())


def configure_logging(service: str, level: str = "INFO") -> logging.Logger:
    """Send every log record to stderr as logfmt; returns the service's logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger(service)
