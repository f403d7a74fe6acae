"""Topic definitions: the single place that says which topics exist and how they are configured.

Producers, consumers, the admin script, ``verify`` and the console all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic and the configuration the brokers must hold for it."""

    name: str
    partitions: int = 3
    replication_factor: int = 3
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dlq(self) -> str:
        """Name of this topic's dead-letter topic."""
        return f"{self.name}-dlq"


def _entity_topic(name: str, retention_days: int) -> TopicSpec:
    return TopicSpec(
        name=name,
        config={
            "min.insync.replicas": "2",
            "compression.type": "lz4",
            "retention.ms": str(retention_days * DAY_MS),
            "cleanup.policy": "delete",
        },
    )


USERS = _entity_topic("users", 7)
PRODUCTS = _entity_topic("products", 7)
ORDERS = _entity_topic("orders", 30)

ENTITY_TOPICS: tuple[TopicSpec, ...] = (USERS, PRODUCTS, ORDERS)


def dead_letter_topic(spec: TopicSpec) -> TopicSpec:
    """A dead-letter topic keeps its rejects as long as the longest source topic (30 days)."""
    return TopicSpec(
        name=spec.dlq,
        config={
            "min.insync.replicas": "2",
            "compression.type": "lz4",
            "retention.ms": str(30 * DAY_MS),
            "cleanup.policy": "delete",
        },
    )


DLQ_TOPICS: tuple[TopicSpec, ...] = tuple(dead_letter_topic(t) for t in ENTITY_TOPICS)
ALL_TOPICS: tuple[TopicSpec, ...] = ENTITY_TOPICS + DLQ_TOPICS


def pipeline_topics(partitions: int = 3) -> tuple[TopicSpec, ...]:
    """Every topic with ``partitions`` per entity topic (``PIPELINE_TOPIC_PARTITIONS``).

    Dead-letter topics keep three partitions: they carry rejects, not load.
    """
    entities = tuple(replace(spec, partitions=partitions) for spec in ENTITY_TOPICS)
    return entities + DLQ_TOPICS


# Consumer groups, one per entity topic (PIPELINE_CONSUMER_INSTANCES members each, three by default).
CONSUMER_GROUPS: dict[str, str] = {
    "users": "user-consumer-group",
    "products": "product-consumer-group",
    "orders": "order-consumer-group",
}


def spec_for(name: str) -> TopicSpec:
    """Look a topic up by name; an unknown name is a clear error, not a KeyError."""
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in ALL_TOPICS)
    raise ValueError(f"unknown topic {name!r}; known topics: {known}")
