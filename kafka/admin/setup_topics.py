"""Create the pipeline's topics, or check them: safe to run again.

Missing topics are created from ``kafka/topics.py``; existing ones are compared with it and
any drift (replication factor, a config value) is reported, not changed. The partition count
is the one exception: it grows to ``PIPELINE_TOPIC_PARTITIONS`` and never shrinks (Kafka cannot).
In the secure profile (``PIPELINE_SECURITY=secure``) the ACLs of ``kafka/acls.py`` are created
and checked the same way. Exit code: 0 when everything matches after the run, 1 when drift
remains, 2 on errors (``apps/pipeline/topics.py`` is the process that runs it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic, ResourceType

from common.settings import KafkaSettings, ScaleSettings, load
from kafka import clients
from kafka.admin.setup_acls import AclReport, ensure_acls
from kafka.topics import ALL_TOPICS, TopicSpec, pipeline_topics

GROWN_NOTE = "keyed order per entity holds only for events produced after the change"


@dataclass
class TopicReport:
    """What happened to one topic."""

    name: str
    action: str  # "created" | "ok" | "drift" | "grown"
    drift: list[str]
    note: str = ""


def admin_client(settings: KafkaSettings) -> AdminClient:
    return clients.admin(settings, "topic-admin")


def create_missing(admin: AdminClient, specs: tuple[TopicSpec, ...], timeout_s: float = 30) -> list[str]:
    """Create the topics that do not exist yet; returns the names this call created.

    A topic the metadata did not list yet but the controller already has (just created by
    someone else, or by a concurrent topic-init) is not ours: it is checked like any existing one.
    """
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor, config=s.config)
        for s in specs
        if s.name not in existing
    ]
    if not new:
        return []
    created = []
    for name, future in admin.create_topics(new, operation_timeout=timeout_s).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    return created


def delete_topics(admin: AdminClient, names: list[str], timeout_s: float = 60) -> list[str]:
    """Delete ``names`` and wait for the controller's answer; returns the names it did not delete.

    ``AdminClient.delete_topics`` only queues the request: a client dropped before it is sent
    deletes nothing. Benchmarks that did not wait left 1,185 scratch partitions on a
    developer's cluster, and its idle brokers spent 0.35 cores serving them. A topic already gone
    counts as deleted; any other failure is returned, for the caller to report (this runs in
    ``finally`` blocks, where raising would hide the error that got there).
    """
    if not names:
        return []
    failed = []
    for name, future in admin.delete_topics(names, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                failed.append(name)
        except Exception:  # noqa: BLE001 - a timeout or a transport error: not deleted, reported
            failed.append(name)
    return failed


def _wait_for_metadata(
    admin: AdminClient, names: list[str], timeout_s: float, at_least: dict[str, int] | None = None
) -> dict:
    """Topic metadata once every name is visible (a new topic takes a moment to propagate).

    With ``at_least``, also once each of those topics shows that many partitions: every broker
    learns of grown partitions on its own, so one answer may show the growth and the next one,
    from another broker, not yet.
    """
    wanted = at_least or {}
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        ready = all(
            n in topics and not topics[n].error and len(topics[n].partitions) >= max(wanted.get(n, 0), 1) for n in names
        )
        if ready or time.monotonic() > deadline:
            missing = [n for n in names if n not in topics]
            if missing:
                raise KafkaException(f"topics not visible after {timeout_s:.0f}s: {', '.join(missing)}")
            return topics
        time.sleep(0.3)


def find_drift(
    admin: AdminClient, specs: tuple[TopicSpec, ...], timeout_s: float = 30, grown: dict[str, int] | None = None
) -> dict[str, list[str]]:
    """Per topic, what differs between the brokers and the definition (read back from the brokers).

    ``grown``: partition counts just created, waited for (up to ``timeout_s``) before they are judged.
    """
    metadata = _wait_for_metadata(admin, [s.name for s in specs], timeout_s, grown)
    configs = _topic_configs(admin, [s.name for s in specs], timeout_s)
    drift: dict[str, list[str]] = {}
    for spec in specs:
        problems = []
        partitions = metadata[spec.name].partitions
        if len(partitions) < spec.partitions:  # more is not drift: partitions never shrink
            problems.append(f"partitions {len(partitions)} != {spec.partitions}")
        replicas = {len(p.replicas) for p in partitions.values()}
        if replicas != {spec.replication_factor}:
            problems.append(f"replication factor {sorted(replicas)} != {spec.replication_factor}")
        for key, wanted in spec.config.items():
            actual = configs[spec.name][key].value
            if actual != wanted:
                problems.append(f"{key}={actual} (wanted {wanted})")
        drift[spec.name] = problems
    return drift


def _topic_configs(admin: AdminClient, names: list[str], timeout_s: float) -> dict:
    """Each topic's config, asked again while a broker answers UNKNOWN_TOPIC_OR_PART.

    On a fresh, busy cluster a broker may not yet know a topic just created although the metadata
    (from another broker) already shows it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        try:
            return {res.name: fut.result() for res, fut in admin.describe_configs(resources).items()}
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def grow_partitions(admin: AdminClient, specs: tuple[TopicSpec, ...], timeout_s: float = 30) -> dict[str, str]:
    """Add partitions where a topic has fewer than its spec; note the ones that have more.

    Returns a note per topic touched. A key's partition is its hash modulo the count, so after
    growth new events of one entity may land elsewhere than its older ones.
    """
    metadata = _wait_for_metadata(admin, [s.name for s in specs], timeout_s)
    notes: dict[str, str] = {}
    grow = []
    for spec in specs:
        count = len(metadata[spec.name].partitions)
        if count < spec.partitions:
            grow.append(NewPartitions(spec.name, spec.partitions))
            notes[spec.name] = f"partitions {count} -> {spec.partitions}: {GROWN_NOTE}"
        elif count > spec.partitions:
            notes[spec.name] = f"keeps {count} partitions (setting {spec.partitions}): Kafka never shrinks a topic"
    if grow:
        for future in admin.create_partitions(grow, operation_timeout=timeout_s).values():
            future.result()
        wanted = {p.topic: p.new_total_count for p in grow}  # metadata shows them a moment later
        _wait_for_metadata(admin, list(wanted), timeout_s, wanted)
    return notes


def ensure_topics(settings: KafkaSettings, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[TopicReport]:
    """Create what is missing, grow partitions that are too few, then report every topic's state."""
    admin = admin_client(settings)
    created = set(create_missing(admin, specs))
    notes = grow_partitions(admin, specs)
    grown_to = {s.name: s.partitions for s in specs if "->" in notes.get(s.name, "")}
    drift = find_drift(admin, specs, grown=grown_to)
    reports = []
    for s in specs:
        grown = "->" in notes.get(s.name, "")
        action = "created" if s.name in created else "drift" if drift[s.name] else "grown" if grown else "ok"
        reports.append(TopicReport(s.name, action, drift[s.name], notes.get(s.name, "")))
    return reports


def configured_topics() -> tuple[TopicSpec, ...]:
    """The topics as the settings want them (``PIPELINE_TOPIC_PARTITIONS``)."""
    return pipeline_topics(load(ScaleSettings).topic_partitions)


def ensure_all(
    settings: KafkaSettings, secure: bool, specs: tuple[TopicSpec, ...] = ALL_TOPICS
) -> tuple[list[TopicReport], AclReport | None]:
    """Topics, and in the secure profile the ACLs (``make topics`` and topic-init)."""
    reports = ensure_topics(settings, specs)
    return reports, ensure_acls(admin_client(settings)) if secure else None
