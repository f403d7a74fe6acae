"""What distinguishes one entity consumer from another, and how to build a group member from it.

An entity consumer is only a topic, a schema and a sink mapping; everything else is the shared
``BatchConsumer``. ``build`` takes explicit names so tests can isolate with unique topics,
groups and schemas, while the runner uses the defaults from ``kafka/topics.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Table

from common.settings import KafkaSettings
from kafka.consumer import BatchConsumer
from kafka.sinks.postgres import Aggregator, PostgresSink, RowMapper, event_row
from kafka.topics import CONSUMER_GROUPS, TopicSpec


@dataclass(frozen=True)
class ConsumerSpec:
    """One entity consumer: where it reads, how it validates, where and how it writes."""

    entity: str
    topic: TopicSpec
    schema: type[BaseModel]
    table: Table
    to_row: RowMapper = event_row
    aggregate: Aggregator | None = None  # aggregate tables kept in the batch's transaction

    @property
    def group_id(self) -> str:
        """The consumer group from ``kafka/topics.py`` (e.g. ``order-consumer-group``)."""
        return CONSUMER_GROUPS[self.topic.name]

    def client_id(self, instance: int | str) -> str:
        """``<entity>-consumer-<n>``, the same name as the supervised service."""
        return f"{self.entity}-consumer-{instance}"

    def build(
        self,
        settings: KafkaSettings,
        database_url: str,
        instance: int | str = 1,
        *,
        topic: str | None = None,
        group_id: str | None = None,
        dlq_topic: str | None = None,
        **options: object,
    ) -> BatchConsumer:
        """A group member; ``topic``/``group_id``/``dlq_topic`` override the production names."""
        topic = topic or self.topic.name
        return BatchConsumer(
            settings,
            topic=topic,
            group_id=group_id or self.group_id,
            dlq_topic=dlq_topic or (self.topic.dlq if topic == self.topic.name else f"{topic}-dlq"),
            schema=self.schema,
            sink=PostgresSink(database_url, self.table, self.to_row, aggregate=self.aggregate),
            client_id=self.client_id(instance),
            **options,  # type: ignore[arg-type]  # batch_size, batch_timeout_s, group_instance_id ...
        )
