"""Which messages a search or a live tail shows: key, header, value substring and a time range.

Every condition given must hold. Key, header value and value are matched as text (UTF-8,
undecodable bytes replaced) and case-sensitively, as they are stored; ``header`` is ``name``
(the header is present) or ``name=text`` (its value contains ``text``). ``since_ms``/``until_ms``
bound the record timestamp (milliseconds since the epoch, ``until`` exclusive) and also tell a
search where to start reading (``offsets_for_times``), so an old window costs no full scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from confluent_kafka import Message
from fastapi import Depends, Query


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class MessageFilter:
    """The conditions; an empty filter matches every message."""

    key: str | None = None
    header: str | None = None
    value: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.key or self.header or self.value) and self.since_ms is None and self.until_ms is None

    def matches(self, message: Message) -> bool:
        """Whether one message meets every condition given."""
        if self.key and self.key not in _text(message.key()):
            return False
        if self.value and self.value not in _text(message.value()):
            return False
        if self.header and not self._header_matches(message):
            return False
        if self.since_ms is not None or self.until_ms is not None:
            ts = message.timestamp()[1]
            if self.since_ms is not None and ts < self.since_ms:
                return False
            if self.until_ms is not None and ts >= self.until_ms:
                return False
        return True

    def _header_matches(self, message: Message) -> bool:
        name, has_text, text = (self.header or "").partition("=")
        headers = message.headers() or []
        return any(header == name and (not has_text or text in _text(raw)) for header, raw in headers)


def filter_params(
    key: Annotated[str | None, Query(description="the key contains this")] = None,
    header: Annotated[str | None, Query(description="'name' (present) or 'name=text' (value contains text)")] = None,
    value: Annotated[str | None, Query(description="the value contains this")] = None,
    since: Annotated[int | None, Query(ge=0, description="timestamp >= this (ms since the epoch)")] = None,
    until: Annotated[int | None, Query(ge=0, description="timestamp < this (ms since the epoch)")] = None,
) -> MessageFilter:
    """The query parameters shared by search and tail."""
    return MessageFilter(key or None, header or None, value or None, since, until)


FilterDep = Annotated[MessageFilter, Depends(filter_params)]
