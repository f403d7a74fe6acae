"""Topic definitions: which topics exist and how they are configured, derived from the entities.

Producers, consumers, the admin script, ``verify`` and the console all read this module; the
names, groups and retentions come from ``common/entities.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from common.entities import ENTITIES, Entity

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


def entity_topic(entity: Entity) -> TopicSpec:
    """The topic of one entity, kept for its ``retention_days``."""
    return TopicSpec(
        name=entity.topic,
        config={
            "min.insync.replicas": "2",
            "compression.type": "lz4",
            "retention.ms": str(entity.retention_days * DAY_MS),
            "cleanup.policy": "delete",
        },
    )


ENTITY_TOPICS: tuple[TopicSpec, ...] = tuple(entity_topic(e) for e in ENTITIES)


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


def pipeline_topics(partitions: int = 3, entities: Iterable[Entity] = ENTITIES) -> tuple[TopicSpec, ...]:
    """Every topic of ``entities`` with ``partitions`` per entity topic (``PIPELINE_TOPIC_PARTITIONS``).

    Dead-letter topics keep three partitions: they carry rejects, not load.
    """
    sources = tuple(entity_topic(e) for e in entities)
    return tuple(replace(spec, partitions=partitions) for spec in sources) + tuple(map(dead_letter_topic, sources))


# Consumer groups, one per entity topic (PIPELINE_CONSUMER_INSTANCES members each, three by default).
CONSUMER_GROUPS: dict[str, str] = {e.topic: e.group for e in ENTITIES}


def spec_for(name: str) -> TopicSpec:
    """Look a topic up by name; an unknown name is a clear error, not a KeyError."""
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in ALL_TOPICS)
    raise ValueError(f"unknown topic {name!r}; known topics: {known}")
