"""Isolated places for one benchmark scenario: a PostgreSQL schema, three topics, consumer processes.

Each ON scenario gets its own topics, consumer groups and schema, so ``verify`` can check it on
its own; each OFF scenario gets its own schema. Everything is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from sqlalchemy import text

from apps.verify import Target
from common.settings import PROJECT_ROOT, KafkaSettings
from database.database import make_engine
from database.models import Base
from kafka import clients
from kafka.admin.inspect import groups_members
from kafka.admin.setup_topics import delete_topics
from kafka.consumers import CONSUMERS
from kafka.topics import ENTITY_TOPICS

ENTITIES = tuple(CONSUMERS)  # users, products, orders
# The names the benchmarks give their scratch topics (a random hex id each), and nothing else:
# ``leftover_topics`` must never match a topic of the user's own.
SCRATCH_TOPIC = re.compile(
    r"(bench|seedbench|rt)-[0-9a-f]{6,8}-(users|products|orders)(-dlq)?"  # scratch_topics
    r"|ceiling-[0-9a-f]{8}"  # ceilings.kafka_ceilings
    r"|sink-bench-[0-9a-f]{8}-p\d+"  # sink_bench
    r"|bench-(users|products|orders)-\d{16,20}"  # producer_bench
)
log = logging.getLogger(__name__)


def drop_topics(admin: AdminClient, names: list[str]) -> None:
    """Delete a benchmark's scratch topics and wait until they are gone; a failure is logged with the way out."""
    if failed := delete_topics(admin, names):
        log.warning("scratch topics not deleted: %s (`python manage.py benchmark prune` removes them)", failed)


def leftover_topics(admin: AdminClient) -> dict[str, int]:
    """Scratch topics that earlier benchmark runs left on the cluster, with their partition counts.

    Every partition costs idle brokers CPU (replica fetches, purgatories): 1,185 of them cost
    0.35 cores of a 2-core machine, and a benchmark measured beside them reads that as its own.
    """
    topics = admin.list_topics(timeout=10).topics
    return {name: len(meta.partitions) for name, meta in topics.items() if SCRATCH_TOPIC.fullmatch(name)}


def leftover_partitions(kafka: KafkaSettings, say: Callable[[str], None]) -> int:
    """How many scratch partitions earlier runs left; says so, with the way out, when there are any."""
    left = leftover_topics(clients.admin(kafka, "bench-admin"))
    if partitions := sum(left.values()):
        say(
            f"[yellow]{len(left)} scratch topics ({partitions} partitions) left by earlier benchmark runs are on the"
            " cluster; idle brokers serve every partition, and this run counts that CPU as its own:"
            " `python manage.py benchmark prune` removes them[/]"
        )
    return partitions


def schema_url(database_url: str, schema: str) -> str:
    """The URL with ``search_path`` set to ``schema`` (unqualified table names resolve there)."""
    return f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_schema(database_url: str, schema: str) -> Iterator[str]:
    """A schema holding the three entity tables; yields its URL and drops it afterwards."""
    engine = make_engine(database_url, pool_size=1)
    url = schema_url(database_url, schema)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_engine(url, pool_size=1)
    try:
        Base.metadata.create_all(scoped)
        yield url
    finally:
        scoped.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def scratch_topics(kafka: KafkaSettings, prefix: str) -> Iterator[dict[str, str]]:
    """``{entity: "<prefix>-<entity>"}`` plus their ``-dlq`` topics, configured like production."""
    names = {spec.name: f"{prefix}-{spec.name}" for spec in ENTITY_TOPICS}
    admin = clients.admin(kafka, "bench-admin", {"logger": logging.getLogger("librdkafka")})
    new = [
        NewTopic(f"{names[spec.name]}{suffix}", spec.partitions, spec.replication_factor, config=spec.config)
        for spec in ENTITY_TOPICS
        for suffix in ("", "-dlq")
    ]
    for future in admin.create_topics(new, operation_timeout=30).values():
        future.result(timeout=60)
    while not {t.topic for t in new} <= set(admin.list_topics(timeout=10).topics):
        time.sleep(0.2)  # metadata lags a fresh topic
    try:
        yield names
    finally:
        drop_topics(admin, [t.topic for t in new])


def stable_members(kafka: KafkaSettings, groups: list[str]) -> dict[str, dict[str, list[str]]]:
    """Per group, member -> assigned partitions once that group is stable; groups still forming are left out.

    ``groups_members`` describes every group in one child process: librdkafka's coordinator
    requests can abort their process (confluentinc/librdkafka#4605), never this one.
    """
    try:
        described = groups_members(kafka, groups)
    except RuntimeError:  # a coordinator is still loading a new group
        return {}
    return {group: d["members"] for group, d in described.items() if d["state"] == "stable"}


@dataclass
class ConsumerFleet:
    """``instances`` consumer processes (apps/pipeline/consume.py) per entity, on the scratch topics and schema."""

    kafka: KafkaSettings
    database_url: str
    topics: dict[str, str]
    instances: int = 1
    processes: list[subprocess.Popen] = field(default_factory=list)
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="bench-consumers-", suffix=".log")[1]))

    def group_id(self, entity: str) -> str:
        return f"{self.topics[entity]}-group"

    def targets(self) -> list[Target]:
        """What ``verify`` reconciles for this fleet."""
        return [Target(CONSUMERS[e], self.topics[e], self.group_id(e), f"{self.topics[e]}-dlq") for e in ENTITIES]

    def start(self, timeout_s: float = 90) -> None:
        """Start the members and wait until every group is stable with all partitions assigned.

        On failure (or Ctrl-C) the members already started are stopped before the error propagates.
        """
        try:
            self._start(timeout_s)
        except BaseException:
            self.stop(keep_log=True)
            raise

    def _start(self, timeout_s: float) -> None:
        env = os.environ | {
            "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "PIPELINE_DATABASE_URL": self.database_url,
        }
        log = self.log_path.open("ab")
        for entity in ENTITIES:
            for instance in range(1, self.instances + 1):
                argv = [
                    sys.executable,
                    "-m",
                    "apps.pipeline.consume",
                    "--group",
                    entity,
                    "--instance",
                    str(instance),
                    "--topic",
                    self.topics[entity],
                    "--group-id",
                    self.group_id(entity),
                    "--dlq-topic",
                    f"{self.topics[entity]}-dlq",
                    "--log-level",
                    "WARNING",
                ]
                self.processes.append(subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log))
        deadline = time.monotonic() + timeout_s
        pending = set(ENTITIES)
        while pending:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"consumers did not join their groups; see {self.log_path}")
            assigned = self._assigned(pending)
            pending = {e for e in pending if assigned.get(e) != CONSUMERS[e].topic.partitions}
            time.sleep(0.5)

    def _assigned(self, entities: set[str]) -> dict[str, int]:
        """Partitions assigned per stable group (none while it forms)."""
        stable = stable_members(self.kafka, [self.group_id(e) for e in entities])
        return {e: sum(map(len, stable[self.group_id(e)].values())) for e in entities if self.group_id(e) in stable}

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def stop(self, keep_log: bool = False) -> None:
        """SIGTERM: each member finishes its batch, commits and leaves the group.

        The shared log is removed when every member exited cleanly, unless ``keep_log`` (a failed
        start names it); otherwise it stays, and is named.
        """
        for process in self.processes:
            process.terminate()
        clean = True
        for process in self.processes:
            try:
                clean &= process.wait(30) == 0
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                clean = False
        if not clean:
            log.warning("consumers did not all exit cleanly: see %s", self.log_path)
        elif not keep_log:
            self.log_path.unlink(missing_ok=True)
        self.processes.clear()
