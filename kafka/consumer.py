"""The consumer base: batches from Kafka, validated, written by a sink, committed only afterwards.

Lifecycle of one batch (the checkpoint decides the order, as in Quix Streams and Kafka Connect):

1. ``consume`` what is already fetched, up to ``batch_size``, waiting at most ``batch_timeout_s``
   for the first message; each is validated with the topic's schema. A message that can never
   succeed (bad JSON, schema violation, a key that is not its entity id) is sent to the
   dead-letter topic and the batch goes on.
2. The dead-letter publisher confirms every reject, then ``sink.flush(checkpoint)``: one database
   transaction with the rows, the aggregates and the batch's offsets (exactly once, see below).
   A transient error pauses the partitions and retries the same batch with backoff, polling so
   the member stays in its group; nothing is skipped or committed meanwhile. Records the sink
   refuses (a version conflict, a value the database rejects) are dead-lettered, the rest retried.
3. Offsets ``last + 1`` become the positions mirrored to Kafka.

Exactly once: PostgreSQL, not Kafka, holds the group's offsets (``database/offsets.py``). On
assignment the member seeks to them; each batch moves them by compare-and-set from where it
started, so a member that lost its partitions (paused past its session timeout) is fenced off:
its batch rolls back and it re-seeks. Kafka's committed offsets are a mirror for lag, committed
every ``commit_interval_s`` (1 s) asynchronously; on revoke and on ``stop()`` (SIGTERM) the
in-flight batch is flushed and the mirror committed synchronously. The test-only setting
``consumer_offsets_in_kafka_only`` brings back at-least-once: Kafka's offsets alone, no seek.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from pydantic import BaseModel, ValidationError

from common.gc_tuning import collections_paused
from common.settings import KafkaSettings
from database.errors import FencedSinkError, RejectedRecords, SinkError, TerminalSinkError, TransientSinkError
from database.offsets import Checkpoint, Move
from kafka import clients
from kafka.dead_letter import DeadLetterPublisher
from kafka.fetch import take
from kafka.metrics import consumer_metrics
from kafka.sinks.base import Sink

log = logging.getLogger(__name__)
STATS_INTERVAL_S = 15.0


@dataclass(frozen=True)
class Rejection:
    """Why a message can never be applied: ``kind`` is ``decode`` (not JSON) or ``schema``."""

    kind: str
    error: str


def decode(schema: type[BaseModel], value: bytes | None) -> BaseModel | Rejection:
    """Parse and validate one message value; a ``Rejection`` means it belongs in the dead-letter topic.

    Pure and total for any bytes (tests/test_hostile_input.py checks this with hypothesis): it
    never raises, so a hostile message cannot crash or stall the consumer loop.
    """
    if value is None:
        return Rejection("decode", "message has no value")
    try:
        return schema.model_validate_json(value)
    except ValidationError as exc:
        kind = "decode" if any(e["type"] == "json_invalid" for e in exc.errors()) else "schema"
        return Rejection(kind, _summary(exc))
    except ValueError as exc:
        return Rejection("decode", str(exc))


class Backoff:
    """Exponential delays with jitter: 0.5 s, 1 s, 2 s ... capped at ``maximum``."""

    def __init__(self, initial_s: float = 0.5, maximum_s: float = 30.0) -> None:
        self.initial_s, self.maximum_s, self.attempts = initial_s, maximum_s, 0

    def next(self) -> float:
        """The delay before the next attempt."""
        delay = min(self.maximum_s, self.initial_s * 2**self.attempts)
        self.attempts += 1
        return delay * random.uniform(0.8, 1.2)


class BatchConsumer:
    """One group member: consume a topic in batches into a sink, dead-lettering poison messages."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str,
        group_id: str,
        dlq_topic: str,
        schema: type[BaseModel],
        sink: Sink[BaseModel],
        client_id: str,
        group_instance_id: str | None = None,
        batch_size: int | None = None,
        batch_timeout_s: float | None = None,
        commit_interval_s: float | None = None,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.topic, self.group_id, self.client_id = topic, group_id, client_id
        self.schema, self.sink = schema, sink
        self.batch_size = batch_size or settings.consumer_batch_size
        self.batch_timeout_s = batch_timeout_s or settings.consumer_batch_timeout_s
        self.commit_interval_s = settings.consumer_commit_interval_s if commit_interval_s is None else commit_interval_s
        self.max_backoff_s = max_backoff_s
        self.exactly_once = not settings.consumer_offsets_in_kafka_only
        conf = {"logger": logging.getLogger("librdkafka"), "on_commit": self._on_commit}
        if group_instance_id:
            conf["group.instance.id"] = group_instance_id
        self.consumer = clients.consumer(settings, group_id, client_id, conf)
        self.dead_letters = DeadLetterPublisher(settings, dlq_topic, group_id, client_id)
        self.metrics = consumer_metrics(topic)
        self.assignment: set[tuple[str, int]] = set()
        self.stats: dict[str, int] = dict.fromkeys(("consumed", "applied", "dead_lettered", "commits", "fenced"), 0)
        self._pending: list[tuple[Message, BaseModel]] = []
        self._offsets: dict[tuple[str, int], list[int]] = {}  # (topic, partition) -> [first, last]
        # next offset per owned partition as stored in PostgreSQL: a batch's compare-and-set start
        self._positions: dict[tuple[str, int], int] = {}
        self._uncommitted = False  # positions moved (or a commit failed) since the last commit
        self._committed_at = time.monotonic()
        self._stopping = threading.Event()
        self._revocations = 0
        self._paused = False  # the assignment was paused to retry a batch (``_wait``)
        self._stats_at = time.monotonic()

    # --- lifecycle --------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until ``stop()``; then checkpoint the last batch and leave the group."""
        self.consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        self._log(logging.INFO, "consumer started", batch_size=self.batch_size)
        try:
            while not self._stopping.is_set():
                # A batch's models, rows and buffers live until its checkpoint and then die together
                # by reference counting: cyclic collections in between only rescan them (decode and
                # mapping, offline: 16-28 -> 12-21 us per event). Cycles are collected between batches
                # (a batch retried through a database outage keeps them paused: a few objects a try).
                with collections_paused():
                    for message in self._next_batch():
                        self._handle(message)
                    self._checkpoint()
                self._log_stats()
            self._checkpoint(sync=True)
        except BaseException:
            self._drop()  # never commit after an unexpected error: Kafka redelivers
            raise
        finally:
            self.consumer.close()
            self.dead_letters.close()
            self.sink.close()
            self._log(logging.INFO, "consumer stopped", **self.stats)

    def _next_batch(self) -> list[Message]:
        """Up to ``batch_size`` messages, without waiting for a batch to fill.

        Waiting only for the first message keeps end-to-end latency low at low rates (a batch
        would otherwise wait out ``batch_timeout_s``); at high rates librdkafka's prefetched queue
        fills the batch at once, so throughput is unchanged.
        """
        return take(self.consumer, self.batch_size, self.batch_timeout_s)

    def stop(self) -> None:
        """Ask the loop to finish its batch and exit; safe from a signal handler or another thread."""
        self._stopping.set()

    # --- one message ------------------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            self._log(logging.WARNING, "consumer error", error=error)
            return
        key = (message.topic(), message.partition())
        self._offsets.setdefault(key, [message.offset(), message.offset()])[1] = message.offset()
        self.stats["consumed"] += 1
        decoded = decode(self.schema, message.value())
        if isinstance(decoded, Rejection):
            self._dead_letter(message, decoded.error, decoded.kind)
        elif (mismatch := key_mismatch(message.key(), decoded)) is not None:
            self._dead_letter(message, mismatch, "key_mismatch")
        else:
            self._pending.append((message, decoded))
            self.sink.add(decoded)

    def _dead_letter(self, message: Message, error: str, kind: str) -> None:
        self.dead_letters.publish(message, error, kind)
        self.stats["dead_lettered"] += 1
        self.metrics.dead_lettered += 1

    # --- checkpoint -------------------------------------------------------------------------------
    def _checkpoint(self, sync: bool = False) -> None:
        """Write the batch, confirm dead letters, then commit when due; retry transient failures forever."""
        if self._offsets:
            revocations, backoff = self._revocations, Backoff(maximum_s=self.max_backoff_s)
            while True:
                try:
                    self._write()
                    self._advance()
                    break
                except FencedSinkError as exc:
                    self._fenced(exc)
                    break
                except TransientSinkError as exc:
                    if self._stopping.is_set():
                        self._log(logging.WARNING, "stopping with an unwritten batch; it will be redelivered")
                        self._drop()
                        return
                    delay = backoff.next()
                    self._log(
                        logging.WARNING, "write failed, retrying", error=exc, attempt=backoff.attempts, retry_in_s=delay
                    )
                    self._wait(delay)
                    if self._revocations != revocations:
                        return  # the revoke handler settled (or dropped) this batch
            if self._paused:  # asking librdkafka for the assignment each batch cost 0.2 ms of a realtime batch's time
                self.consumer.resume(self.consumer.assignment())
                self._paused = False
        due = time.monotonic() - self._committed_at >= self.commit_interval_s
        # On stop, commit synchronously even if nothing moved: the last asynchronous commit may
        # still be in flight when the consumer closes.
        if (sync and self._positions) or (self._uncommitted and due):
            self._commit(sync)

    def _advance(self) -> None:
        """The batch is in PostgreSQL: its offsets become the positions to commit."""
        for (topic, partition), (_, last) in self._offsets.items():
            self._positions[(topic, partition)] = last + 1
        self._uncommitted = True
        self._pending.clear()
        self._offsets.clear()

    def _write(self) -> None:
        """Confirm the rejects, then write the batch with its offsets; set aside what the sink refuses."""
        started, applied, rejected = time.monotonic(), self.stats["applied"], self.stats["dead_lettered"]
        while True:
            self.dead_letters.confirm()  # before the batch (and its offsets) commit past them
            try:
                self.stats["applied"] += self.sink.flush(self._batch_checkpoint())
                break
            except RejectedRecords as exc:
                rejects = exc.rejects
            except TerminalSinkError as exc:
                self._log(logging.WARNING, "batch rejected, isolating records", error=exc)
                rejects = [(index, why, "sink") for index, why in self.sink.find_rejects()]
                if not rejects:
                    raise TransientSinkError(f"batch rejected, yet no record alone: {exc}") from exc
            self._set_aside(rejects)
        self.metrics.written(
            (m.timestamp()[1] for m, _ in self._pending),
            self.stats["applied"] - applied,
            self.stats["dead_lettered"] - rejected,
            time.monotonic() - started,
        )

    def _set_aside(self, rejects: list[tuple[int, str, str]]) -> None:
        """Dead-letter the records the sink refused and take them out of the batch."""
        for index, why, kind in rejects:
            self._dead_letter(self._pending[index][0], why, kind)
        gone = {index for index, _, _ in rejects}
        self._pending = [item for index, item in enumerate(self._pending) if index not in gone]
        self.sink.remove(gone)

    def _batch_checkpoint(self) -> Checkpoint | None:
        """Each partition of the batch moves from its stored offset (None: never stored) to ``last + 1``."""
        if not self.exactly_once:
            return None
        moves = tuple(Move(p, self._positions.get((t, p)), last + 1) for (t, p), (_, last) in self._offsets.items())
        return Checkpoint(self.group_id, self.topic, moves)

    def _fenced(self, exc: FencedSinkError) -> None:
        """Another member moved our stored offsets: forget the batch, re-seek to what PostgreSQL holds."""
        self.stats["fenced"] += 1
        self._log(logging.WARNING, "batch fenced off, re-seeking to the stored offsets", error=exc)
        partitions = [tp for tp in self._offsets if tp in self.assignment]
        self._drop()
        try:
            self._seek_stored([TopicPartition(t, p) for t, p in partitions])
        except (KafkaException, SinkError) as error:  # not ours any more, or the database is away: next batch retries
            self._log(logging.WARNING, "re-seek failed", error=error)

    def _wait(self, delay_s: float) -> None:
        """Sleep while polling paused partitions, so heartbeats and rebalances are still served."""
        self.consumer.pause(self.consumer.assignment())
        self._paused = True
        deadline = time.monotonic() + delay_s
        revocations = self._revocations
        while (left := deadline - time.monotonic()) > 0 and revocations == self._revocations:
            message = self.consumer.poll(min(left, 0.5))
            if message is not None:
                self._handle(message)

    def _commit(self, sync: bool = False) -> None:
        """Commit the position of every owned partition (re-sending an unchanged one is harmless)."""
        offsets = [TopicPartition(t, p, offset) for (t, p), offset in self._positions.items()]
        self._uncommitted, self._committed_at = False, time.monotonic()
        try:
            if sync:
                self._on_commit(None, self.consumer.commit(offsets=offsets, asynchronous=False) or [])
            else:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            self.stats["commits"] += 1
        except KafkaException as exc:
            # The rows are committed in PostgreSQL; redelivery is harmless thanks to the version guard.
            self._uncommitted = True
            self._log(logging.WARNING, "commit failed; will retry, or the batch is redelivered", error=exc)

    def _on_commit(self, error: Any, partitions: list[TopicPartition]) -> None:
        """Commit result (from ``consume``/``poll`` when asynchronous); a failure is retried when due."""
        failed = [tp for tp in partitions if tp.error] if error is None else partitions
        if error is not None or failed:
            self._uncommitted = True
            self._log(logging.WARNING, "commit failed, will retry", error=error or failed[0].error)

    def _drop(self, revoked: Sequence[TopicPartition] | None = None) -> None:
        """Forget the in-flight batch; on a partial revoke, rewind the partitions we keep."""
        if revoked is not None:
            gone = {(tp.topic, tp.partition) for tp in revoked}
            for (topic, partition), (first, _) in self._offsets.items():
                if (topic, partition) in self.assignment - gone:
                    self.consumer.seek(TopicPartition(topic, partition, first))
        self.sink.drop()
        self._pending.clear()
        self._offsets.clear()

    # --- rebalance callbacks (run inside consume/poll) -------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment |= {(tp.topic, tp.partition) for tp in partitions}
        if self.exactly_once:
            self._position_at_stored(partitions)
            consumer.assign(partitions)  # start where PostgreSQL says; Kafka's offset only if never stored
        self._log(logging.INFO, "partitions assigned", partitions=_names(partitions))

    def _position_at_stored(self, partitions: list[TopicPartition]) -> None:
        """Set each partition's start to its stored offset, retrying while the database is away."""
        backoff = Backoff(maximum_s=self.max_backoff_s)
        while True:
            try:
                stored = self.sink.stored_offsets(self.group_id, self.topic)
                break
            except TransientSinkError as exc:
                if self._stopping.is_set():
                    return  # Kafka's offsets then; a batch from there is fenced if PostgreSQL disagrees
                self._log(logging.WARNING, "cannot read stored offsets, retrying", error=exc)
                time.sleep(backoff.next())
        for tp in partitions:
            if tp.partition in stored:
                tp.offset = self._positions[(tp.topic, tp.partition)] = stored[tp.partition]
                self._uncommitted = True  # mirror them to Kafka, so lag is true even before a batch

    def _seek_stored(self, partitions: list[TopicPartition]) -> None:
        """Seek owned partitions back to their stored offsets (after a fenced batch)."""
        self._position_at_stored(partitions)
        for tp in partitions:
            if tp.offset >= 0:
                self.consumer.seek(tp)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._revocations += 1
        self._log(logging.INFO, "partitions revoked", partitions=_names(partitions), pending=len(self._pending))
        if self._offsets:
            try:
                self._write()
                self._advance()
            except SinkError as exc:
                self._log(logging.WARNING, "revoked with an unwritten batch; new owner gets it", error=exc)
                self._drop(partitions)
        if self._positions:
            self._commit(sync=True)  # before the partitions change hands (an async one may be in flight)
        self._forget(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._revocations += 1
        self._log(logging.WARNING, "partitions lost", partitions=_names(partitions))
        self._drop(partitions)
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        """Partitions now owned by another member: never commit them from here again."""
        for tp in partitions:
            self._positions.pop((tp.topic, tp.partition), None)
        self.assignment -= {(tp.topic, tp.partition) for tp in partitions}

    # --- logging ----------------------------------------------------------------------------------
    def _log(self, level: int, msg: str, **fields: Any) -> None:
        log.log(level, msg, extra={"fields": {"client": self.client_id, "topic": self.topic, **fields}})

    def _log_stats(self) -> None:
        if time.monotonic() - self._stats_at >= STATS_INTERVAL_S:
            self._stats_at = time.monotonic()
            self._log(logging.INFO, "progress", **self.stats)


def key_mismatch(key: bytes | None, event: BaseModel) -> str | None:
    """Why a message's key is not its event's entity id, or None: partitioning and order rely on it."""
    entity = str(event.entity_id)  # type: ignore[attr-defined]  # every envelope has one
    if key is not None and key == entity.encode():
        return None
    return f"key {key!r} is not the entity id {entity}"


def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "-"


def _summary(exc: ValidationError) -> str:
    """One line per validation error: ``payload.email: value is not a valid email address``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
