"""Create the pipeline's topics, or check them: safe to run again.

Missing topics are created from ``kafka/topics.py``; existing ones are compared with it and
any drift (partition count, replication factor, a config value) is reported, not changed.
In the secure profile (``PIPELINE_SECURITY=secure``) the ACLs of ``kafka/acls.py`` are created
and checked the same way. Exit code: 0 when everything matches after the run, 1 when drift
remains, 2 on errors.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from common.settings import KafkaSettings, RuntimeSettings, load
from kafka.admin.setup_acls import AclReport, ensure_acls
from kafka.config import client_config
from kafka.topics import ALL_TOPICS, TopicSpec


@dataclass
class TopicReport:
    """What happened to one topic."""

    name: str
    action: str  # "created" | "ok" | "drift"
    drift: list[str]


def admin_client(settings: KafkaSettings) -> AdminClient:
    return AdminClient(client_config(settings, "topic-admin"))


def create_missing(admin: AdminClient, specs: tuple[TopicSpec, ...], timeout_s: float = 30) -> list[str]:
    """Create the topics that do not exist yet; returns their names."""
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor, config=s.config)
        for s in specs
        if s.name not in existing
    ]
    if not new:
        return []
    for future in admin.create_topics(new, operation_timeout=timeout_s).values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # a concurrent topic-init won the race
                raise
    return [t.topic for t in new]


def _wait_for_metadata(admin: AdminClient, names: list[str], timeout_s: float) -> dict:
    """Topic metadata once every name is visible (a new topic takes a moment to propagate)."""
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        ready = all(n in topics and topics[n].partitions and not topics[n].error for n in names)
        if ready or time.monotonic() > deadline:
            missing = [n for n in names if n not in topics]
            if missing:
                raise KafkaException(f"topics not visible after {timeout_s:.0f}s: {', '.join(missing)}")
            return topics
        time.sleep(0.3)


def find_drift(admin: AdminClient, specs: tuple[TopicSpec, ...], timeout_s: float = 30) -> dict[str, list[str]]:
    """Per topic, what differs between the brokers and the definition (read back from the brokers)."""
    metadata = _wait_for_metadata(admin, [s.name for s in specs], timeout_s)
    resources = [ConfigResource(ResourceType.TOPIC, s.name) for s in specs]
    configs = {res.name: fut.result() for res, fut in admin.describe_configs(resources).items()}
    drift: dict[str, list[str]] = {}
    for spec in specs:
        problems = []
        partitions = metadata[spec.name].partitions
        if len(partitions) != spec.partitions:
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


def ensure_topics(settings: KafkaSettings, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[TopicReport]:
    """Create what is missing, then report every topic's state."""
    admin = admin_client(settings)
    created = set(create_missing(admin, specs))
    drift = find_drift(admin, specs)
    return [
        TopicReport(s.name, "created" if s.name in created else ("drift" if drift[s.name] else "ok"), drift[s.name])
        for s in specs
    ]


def ensure_all(settings: KafkaSettings, secure: bool) -> tuple[list[TopicReport], AclReport | None]:
    """Topics, and in the secure profile the ACLs (``make topics`` and topic-init)."""
    reports = ensure_topics(settings)
    return reports, ensure_acls(admin_client(settings)) if secure else None


def main() -> int:
    settings = load(KafkaSettings)
    try:
        reports, acls = ensure_all(settings, load(RuntimeSettings).secure)
    except KafkaException as exc:
        print(f"topic-init: cannot reach Kafka at {settings.bootstrap_servers}: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        detail = "; ".join(report.drift)
        print(f"topic={report.name} action={report.action}" + (f' drift="{detail}"' if detail else ""))
    if acls is not None:
        print(f"acls created={len(acls.created)} drift={len(acls.drift)}")
        for line in acls.drift:
            print(f'acl drift="{line}"')
    return 1 if any(r.drift for r in reports) or (acls and acls.drift) else 0


if __name__ == "__main__":
    sys.exit(main())
