"""Helpers for the exactly-once tests: runner processes, a kill loop, table snapshots, offset resets."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import select

from collect.pools import build_pools
from collect.stream import RealtimeStream
from common.settings import PROJECT_ROOT, KafkaSettings
from database.database import make_engine
from database.models import AGGREGATES, TABLES
from kafka.offsets import partition_offsets
from tests.consumer_events import T0, produce, versions, wait_until


def runner(settings: KafkaSettings, url: str, topic: str, dlq: str, group: str, instance: int, **env: str):
    """An order consumer as its own process (so it can be SIGKILLed or SIGSTOPped)."""
    environment = {**os.environ, "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
                   "PIPELINE_DATABASE_URL": url, "PIPELINE_KAFKA_CONSUMER_BATCH_SIZE": "25",
                   "PIPELINE_KAFKA_SESSION_TIMEOUT_MS": "6000", **env}  # fmt: skip
    argv = [sys.executable, "-m", "apps.pipeline.consume", "--group", "orders", "--instance", str(instance),
            "--topic", topic, "--group-id", group, "--dlq-topic", dlq]  # fmt: skip
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def pair(settings: KafkaSettings, url: str, names: tuple[str, str, str], events: list, under_way: int):
    """``events`` produced up front, two members started; returns once ``under_way`` rows are in."""
    topic, dlq, group = names
    produce(settings, topic, events)
    members = [runner(settings, url, topic, dlq, group, n) for n in (1, 2)]
    try:
        wait_until(lambda: len(versions(url, "orders")) > under_way, 60, "consumption under way")
    except BaseException:
        stop(members)
        raise
    return members


def kill_loop(settings: KafkaSettings, url: str, names: tuple[str, str, str], events: list, kills: int, **env: str):
    """SIGKILL a random one of two members ``kills`` times while they work off ``events``.

    Half the events are a backlog from the start, the rest arrive in slices meanwhile: the members
    are busy, so a kill lands mid-batch or with up to a second of batches not yet mirrored to Kafka.
    """
    topic, dlq, group = names
    rng = random.Random(14)
    produce(settings, topic, events[: len(events) // 2])
    members = [runner(settings, url, topic, dlq, group, n, **env) for n in (1, 2)]
    rest = events[len(events) // 2 :]
    producer = threading.Thread(target=_produce_slowly, args=(settings, topic, rest), daemon=True)
    producer.start()
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.5, 2.5))
            victim = rng.randrange(2)
            members[victim].send_signal(signal.SIGKILL)
            members[victim].wait(10)
            members[victim] = runner(settings, url, topic, dlq, group, victim + 1, **env)
        producer.join(120)
        return members
    except BaseException:
        stop(members)
        raise


def _produce_slowly(settings: KafkaSettings, topic: str, events: list) -> None:
    for i in range(0, len(events), 200):
        produce(settings, topic, events[i : i + 200])
        time.sleep(0.1)


def stop(members: list[subprocess.Popen]) -> list[bytes]:
    """SIGTERM every member still running; their stderr logs."""
    for member in members:
        if member.poll() is None:
            member.send_signal(signal.SIGCONT)
            member.terminate()
    logs = []
    for member in members:
        try:
            member.wait(30)
        except subprocess.TimeoutExpired:
            member.kill()
            member.wait(10)
        logs.append(member.stderr.read() if member.stderr else b"")
    return logs


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every entity and aggregate table (``applied_at`` left out), ordered by key."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            result = {}
            for name, target in {**TABLES, **AGGREGATES}.items():
                columns = [c for c in target.columns if c.name != "applied_at"]
                query = select(*columns).order_by(*target.primary_key.columns)
                result[name] = [tuple(r) for r in conn.execute(query)]
            return result
    finally:
        engine.dispose()


def reset_to_earliest(settings: KafkaSettings, topic: str, group: str) -> None:
    """What ``kafka-consumer-groups --reset-offsets --to-earliest`` does (the group must be empty)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    earliest = [TopicPartition(topic, p.partition, p.low) for p in partition_offsets(settings, topic)]
    for future in admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, earliest)]).values():
        future.result(30)
    assert all(p.committed == p.low for p in partition_offsets(settings, topic, group))


class SpreadClock:
    """Versions 2, 3, 4 ... with ``occurred_at`` 50 ms apart, so sales spread over several minutes."""

    def __init__(self) -> None:
        self._next = 2

    def tick(self):
        version, self._next = self._next, self._next + 1
        return version, T0 + timedelta(milliseconds=50 * version)


def lifecycle_history(orders: int, seed: int = 3) -> list:
    """``orders`` new orders and their steps (paid, shipped, delivered, cancelled), interleaved."""
    stream = RealtimeStream(build_pools("en_US", 1, 200), seed=seed, clock=SpreadClock())
    stream.load_catalogue(200, 200)
    events = []
    for _ in range(0, orders, 50):
        events += stream.new_orders(50) + stream.order_steps(120)
    return events + stream.order_steps(orders * 3)
