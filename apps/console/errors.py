"""How the console turns a failing data source into a state the page can show.

Every reader raises ``SourceUnavailable`` (Kafka, PostgreSQL, the quorum tool) instead of a
driver exception; the app answers it with ``503`` and a one-line reason, and each section of
the page shows that reason while the other sections keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from sqlalchemy.exc import DBAPIError, OperationalError


class SourceUnavailable(Exception):
    """A data source did not answer in time or refused; ``source`` names it for the page."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"state": "unavailable", "source": self.source, "detail": self.detail}


class NotFound(Exception):
    """A topic or group the request named does not exist (HTTP 404)."""


def kafka_reason(exc: BaseException) -> str:
    """One readable line for a librdkafka error (its name and text, no stack)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        err: KafkaError = exc.args[0]
        return f"{err.name()}: {err.str()}"
    if isinstance(exc, FutureTimeout | TimeoutError):
        return "timed out waiting for the brokers"
    return f"{type(exc).__name__}: {exc}".strip()


@contextmanager
def kafka_errors(action: str) -> Iterator[None]:
    """Turn Kafka client failures while doing ``action`` into ``SourceUnavailable('kafka', ...)``."""
    try:
        yield
    except (KafkaException, FutureTimeout, TimeoutError) as exc:
        raise SourceUnavailable("kafka", f"{action}: {kafka_reason(exc)}") from None


@contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Turn driver failures into ``SourceUnavailable('postgresql', ...)`` with the first line only."""
    try:
        yield
    except (OperationalError, DBAPIError) as exc:
        reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        raise SourceUnavailable("postgresql", f"{action}: {reason[0] if reason else type(exc).__name__}") from None


def section(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One part of a combined answer: its data with ``state: ok``, or why its source is unavailable."""
    try:
        return {"state": "ok", **read()}
    except SourceUnavailable as exc:
        return exc.as_dict()
