"""What verify reconciles: one entity topic, its table, its group and its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

from common.entities import Entity
from kafka.consumers import ConsumerSpec


@dataclass(frozen=True)
class Target:
    """One entity topic to reconcile: its consumer spec, and the names actually in use."""

    spec: ConsumerSpec
    topic: str
    group_id: str
    dlq_topic: str

    @property
    def entity(self) -> Entity:
        """The entity this target reconciles (its production names, whatever names are in use)."""
        return self.spec.entity

    @classmethod
    def production(cls, spec: ConsumerSpec) -> Target:
        """The entity's own names (``common/entities.py``)."""
        return cls(spec, spec.topic.name, spec.group_id, spec.topic.dlq)

    @classmethod
    def of(cls, entity: Entity, spec: ConsumerSpec | None = None) -> Target:
        """The production target of ``entity`` (``spec`` when its table is not in the models)."""
        return cls.production(spec or ConsumerSpec.of(entity))
