"""What distinguishes one entity consumer from another, and how to build a group member from it.

An entity consumer is only a topic, a schema and a sink mapping; everything else is the shared
``BatchConsumer``. ``ConsumerSpec.of`` derives one from an entity of ``common/entities.py``;
``build`` takes explicit names so tests can isolate with unique topics, groups and schemas, while
the runner uses the entity's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Table

from common.entities import Entity, RowMapper
from common.settings import KafkaSettings
from database.aggregates import order_deltas
from database.models import Order, table_named
from database.writer import Aggregator
from kafka.consumer import BatchConsumer
from kafka.sinks.postgres_sink import PostgresSink
from kafka.topics import TopicSpec, entity_topic

# Tables whose batches also move aggregate tables, in the batch's transaction.
AGGREGATORS: dict[str, Aggregator] = {Order.__tablename__: order_deltas}


@dataclass(frozen=True)
class ConsumerSpec:
    """One entity consumer: where it reads, how it validates, where and how it writes."""

    entity: Entity
    topic: TopicSpec
    schema: type[BaseModel]
    table: Table
    to_row: RowMapper
    group_id: str
    aggregate: Aggregator | None = None  # aggregate tables kept in the batch's transaction

    @classmethod
    def of(cls, entity: Entity, table: Table | None = None) -> ConsumerSpec:
        """The consumer of ``entity``; its table is looked up by name unless given."""
        table = table if table is not None else table_named(entity.table)
        return cls(entity, entity_topic(entity), entity.schema, table, entity.to_row, entity.group,
                   AGGREGATORS.get(table.name))  # fmt: skip

    def client_id(self, instance: int | str) -> str:
        """``<entity>-consumer-<n>``, the same name as the supervised service."""
        return self.entity.client_id(instance)

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
