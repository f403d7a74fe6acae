"""Dead-letter publishing: a rejected message goes, unchanged, to ``<topic>-dlq`` with why and where.

Headers (all UTF-8 strings): ``error``, ``error_type``, ``original_topic``,
``original_partition``, ``original_offset``, ``consumer_group``, ``consumer_client``,
``failed_at`` (ISO 8601, UTC), after the message's own headers. Delivery is confirmed before
the consumer commits past the message (``confirm``), so a reject is never lost either.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message

from common.settings import KafkaSettings
from database.errors import TransientSinkError
from kafka import clients

log = logging.getLogger(__name__)
# The headers a dead letter gets, after the message's own; replay, verify, chaos and the console read them.
ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET = "original_topic", "original_partition", "original_offset"
REASON_HEADERS = ("error", "error_type", ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET,
                  "consumer_group", "consumer_client", "failed_at")  # fmt: skip
MAX_ERROR_CHARS = 2_000


class DeadLetterPublisher:
    """Publish rejects for one consumer; ``confirm`` blocks until every one is acknowledged."""

    def __init__(self, settings: KafkaSettings, topic: str, group_id: str, client_id: str) -> None:
        self.topic = topic
        self.group_id = group_id
        self.client_id = client_id
        self._producer = clients.producer(settings, f"{client_id}-dlq", {"logger": logging.getLogger("librdkafka")})
        self._unconfirmed: dict[int, tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = {}
        self._failed: set[int] = set()
        self._next_id = 0
        self.published = 0

    def publish(self, message: Message, error: str, error_type: str) -> None:
        """Queue ``message`` for the dead-letter topic; called from the consumer loop."""
        headers = list(message.headers() or []) + [
            ("error", error[:MAX_ERROR_CHARS].encode()),
            ("error_type", error_type.encode()),
            (ORIGINAL_TOPIC, str(message.topic()).encode()),
            (ORIGINAL_PARTITION, str(message.partition()).encode()),
            (ORIGINAL_OFFSET, str(message.offset()).encode()),
            ("consumer_group", self.group_id.encode()),
            ("consumer_client", self.client_id.encode()),
            ("failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        self._next_id += 1
        self._unconfirmed[self._next_id] = (message.key(), message.value(), headers)
        self._send(self._next_id)
        log.warning(
            "message dead-lettered",
            extra={
                "fields": {
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "dlq": self.topic,
                    "error_type": error_type,
                    "error": error[:300],
                }
            },
        )

    def _send(self, ident: int) -> None:
        key, value, headers = self._unconfirmed[ident]

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._unconfirmed.pop(ident, None)
                self.published += 1
            else:
                self._failed.add(ident)
                log.error("dead-letter delivery failed", extra={"fields": {"dlq": self.topic, "error": err}})

        self._producer.produce(self.topic, value=value, key=key, headers=headers, on_delivery=delivered)

    def confirm(self, timeout_s: float = 30.0) -> None:
        """Called before committing offsets: wait for delivery, re-send failures, else raise transient."""
        if not self._unconfirmed:  # nothing dead-lettered since the last batch: no flush (a call into librdkafka)
            return
        self._producer.flush(timeout_s)
        if self._failed:
            retry, self._failed = self._failed, set()
            for ident in retry:
                self._send(ident)
            self._producer.flush(timeout_s)
        if self._unconfirmed:
            raise TransientSinkError(f"{len(self._unconfirmed)} dead-letter messages not acknowledged yet")

    def close(self) -> None:
        """Flush what is queued; called once at shutdown."""
        self._producer.flush(10)
