"""Re-publish dead letters to their source topic, after a fix: ``python -m apps.pipeline.dlq_replay --topic orders``.

Reads ``<topic>-dlq`` with its own consumer group (``dlq-replay-<topic>``) from where the last
replay stopped up to the end offsets taken at start, sends each letter back, unchanged, to the
topic named by its ``original_topic`` header, and commits the group's offsets only once Kafka
has acknowledged every re-published letter. So a second run does not re-publish what the first
one did; a crash between sending and committing re-sends a few, and the consumers' version
guard makes applying an event twice harmless. The reason headers are dropped and a
``replayed_from`` header (``dlq:partition:offset``) is added. A letter that is still invalid
is dead-lettered again by the consumer, with new offsets, for the next replay.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from common.logging import configure_logging
from common.settings import KafkaSettings, SettingsError, load
from kafka import clients
from kafka.dead_letter import ORIGINAL_TOPIC
from kafka.dead_letter import REASON_HEADERS as LETTER_HEADERS
from kafka.fetch import take
from kafka.offsets import partition_offsets
from kafka.topics import ENTITY_TOPICS, spec_for

log = logging.getLogger("dlq-replay")
REASON_HEADERS = frozenset(LETTER_HEADERS)  # dropped when a letter goes back to its topic


@dataclass
class ReplayReport:
    """What one replay did."""

    read: int = 0
    republished: int = 0
    failed: int = 0


def replay(settings: KafkaSettings, dlq: str, default_topic: str, group_id: str, timeout_s: float = 60) -> ReplayReport:
    """Re-publish ``dlq``'s letters not yet replayed by ``group_id``; commit after every acknowledged batch."""
    ends = {p.partition: p.high for p in partition_offsets(settings, dlq, group_id)}
    consumer = clients.consumer(settings, group_id, "dlq-replay")
    producer = clients.producer(settings, "dlq-replay")
    report = ReplayReport()

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is None:
            report.republished += 1
        else:
            report.failed += 1
            log.error("re-publish failed", extra={"error": error.str()})

    try:
        consumer.assign([TopicPartition(dlq, p) for p in ends])  # resumes at the group's committed offsets
        remaining = {p for p in ends if _next_offset(consumer, dlq, p) < ends[p]}
        while remaining:
            batch = take(consumer, 500, timeout_s)
            if not batch:
                raise TimeoutError(f"{dlq}: no letter within {timeout_s:.0f}s before the end offsets")
            offsets = {}
            for letter in batch:
                if letter.error() is not None or letter.offset() >= ends[letter.partition()]:
                    continue
                report.read += 1
                headers = dict(letter.headers() or [])
                target = (headers.get(ORIGINAL_TOPIC) or default_topic.encode()).decode()
                own = [(k, v) for k, v in letter.headers() or [] if k not in REASON_HEADERS]
                origin = f"{dlq}:{letter.partition()}:{letter.offset()}".encode()
                producer.produce(target, letter.value(), letter.key(), headers=[*own, ("replayed_from", origin)],
                                 on_delivery=delivered)  # fmt: skip
                producer.poll(0)
                offsets[letter.partition()] = letter.offset() + 1
                if offsets[letter.partition()] >= ends[letter.partition()]:
                    remaining.discard(letter.partition())
            if producer.flush(timeout_s) or report.failed:
                raise RuntimeError(f"{report.failed} letters not re-published; offsets not committed, run again")
            consumer.commit(offsets=[TopicPartition(dlq, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()
    return report


def _next_offset(consumer: Consumer, topic: str, partition: int) -> int:
    """The group's committed offset for one partition (0 when it never committed)."""
    (committed,) = consumer.committed([TopicPartition(topic, partition)], timeout=10)
    return max(committed.offset, 0)


def main(argv: list[str] | None = None) -> int:
    """Validate ``--topic``, replay, print one summary line; exit 2 on a bad option or setting."""
    parser = argparse.ArgumentParser(description="Re-publish dead letters to their source topic.")
    parser.add_argument("--topic", required=True, help="entity topic whose <topic>-dlq to replay")
    parser.add_argument("--group-id", help="progress group (default dlq-replay-<topic>)")
    args = parser.parse_args(argv)
    configure_logging("dlq-replay")
    try:
        if args.topic not in {spec.name for spec in ENTITY_TOPICS}:
            spec_for(args.topic)  # an unknown name: its message lists the known ones
            raise ValueError(f"{args.topic!r} is a dead-letter topic; name its source topic instead")
        settings = load(KafkaSettings)
    except ValueError as exc:
        print(f"invalid option --topic: {exc}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    dlq = spec_for(args.topic).dlq
    report = replay(settings, dlq, args.topic, args.group_id or f"dlq-replay-{args.topic}")  # type: ignore[arg-type]
    print(f"{dlq} -> {args.topic}: read={report.read} republished={report.republished} failed={report.failed}")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
