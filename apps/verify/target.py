"""What verify reconciles: one entity topic, its table, its group and its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.consumers import ConsumerSpec


@dataclass(frozen=True)
class Target:
    """One entity topic to reconcile: its consumer spec, and the names actually in use."""

    spec: ConsumerSpec
    topic: str
    group_id: str
    dlq_topic: str

    @classmethod
    def production(cls, spec: ConsumerSpec) -> Target:
        """The names from ``kafka/topics.py``."""
        return cls(spec, spec.topic.name, spec.group_id, spec.topic.dlq)
