"""The pipeline's entities: the one place that names each topic, group, table and schema.

An entity is everything the pipeline knows about one kind of event: its topic and dead-letter
topic, its consumer group, how long Kafka keeps it, its event schema, the table its rows go to
and how an event becomes a row. Topics (``kafka/topics.py``), consumers (``kafka/consumers``),
ACLs, database roles, ``status``, ``verify``, chaos, benchmarks and seeders derive from
``ENTITIES``; adding an entity is one ``Entity(...)`` here plus its schema and table model.

Tables are named, not imported, so every layer may import this module (``database/`` resolves the
name with ``database.models.table_named``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.events import Event, OrderEvent, ProductEvent, UserEvent

RowMapper = Callable[[Any], dict[str, Any]]


def event_row(event: BaseModel) -> dict[str, Any]:
    """The default mapping: payload fields plus the envelope's bookkeeping columns."""
    # __dict__, not dict(model): dict() probes ``keys`` through pydantic's slow __getattr__.
    row = dict(event.payload.__dict__)  # type: ignore[attr-defined]  # every envelope has a payload
    row.update(
        version=event.version,  # type: ignore[attr-defined]
        event_id=event.event_id,  # type: ignore[attr-defined]
        occurred_at=event.occurred_at,  # type: ignore[attr-defined]
        produced_at=event.produced_at,  # type: ignore[attr-defined]
    )
    return row


@dataclass(frozen=True)
class Entity:
    """One entity: ``name`` is singular (client ids, service names), ``topic`` plural."""

    name: str
    topic: str
    schema: type[BaseModel]
    table: str
    retention_days: int
    to_row: RowMapper = event_row
    parents: tuple[str, ...] = ()  # topics of the entities whose id this one references (orphan check)

    @property
    def dlq(self) -> str:
        """The dead-letter topic."""
        return f"{self.topic}-dlq"

    @property
    def group(self) -> str:
        """The consumer group that writes the table (e.g. ``order-consumer-group``)."""
        return f"{self.name}-consumer-group"

    def client_id(self, instance: int | str) -> str:
        """``<name>-consumer-<n>``, the same name as the supervised service."""
        return f"{self.name}-consumer-{instance}"


USERS = Entity("user", "users", UserEvent, table="users", retention_days=7)
PRODUCTS = Entity("product", "products", ProductEvent, table="products", retention_days=7)
ORDERS = Entity("order", "orders", OrderEvent, table="orders", retention_days=30, parents=("users", "products"))

# Order matters: seeders, verify and status go through them in this order (catalogue before orders).
ENTITIES: tuple[Entity, ...] = (USERS, PRODUCTS, ORDERS)

# topic name -> schema, for producers and readers that only hold a topic name
EVENT_SCHEMAS: dict[str, type[BaseModel]] = {e.topic: e.schema for e in ENTITIES}


def entity_of(topic: str, entities: Iterable[Entity] = ENTITIES) -> Entity:
    """The entity whose topic is ``topic``; an unknown name is a clear error listing the known ones."""
    entities = tuple(entities)
    for entity in entities:
        if entity.topic == topic:
            return entity
    raise ValueError(f"{topic!r} is not an entity topic; known: {', '.join(e.topic for e in entities)}")


def topic_of(event: Event | BaseModel, entities: Iterable[Entity] = ENTITIES) -> str:
    """The entity topic an event belongs to."""
    for entity in entities:
        if isinstance(event, entity.schema):
            return entity.topic
    raise TypeError(f"not a pipeline event: {type(event).__name__}")
