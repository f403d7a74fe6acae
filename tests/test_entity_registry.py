"""A fourth entity, defined in this module alone, flows producer -> consumer -> its table -> verify.

``common/entities.py`` is the only description of an entity; topics, the producer, the consumer
and ``verify`` derive everything from an ``Entity``. Here a ``reviews`` entity (schema, table,
registry entry) exists only in this file: nothing else in the project is edited for it. Its names
are unique to the test run so it never meets the session's other topics.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Uuid, func, select, text

from apps.verify import Target, verify
from apps.verify.reconcile import EXIT_MISMATCH, EXIT_OK
from common.entities import ENTITIES, Entity, entity_of, topic_of
from common.events import Envelope
from database.database import make_engine
from kafka.admin.setup_topics import admin_client, ensure_topics
from kafka.consumers import CONSUMERS, ConsumerSpec
from kafka.producer.errors import UnknownTopicError
from kafka.producer.producer import EventProducer
from kafka.topics import CONSUMER_GROUPS, pipeline_topics
from tests.consumer_events import caught_up, wait_until

RUN = uuid.uuid4().hex[:8]


class ReviewPayload(BaseModel):
    """A customer's review of a product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_id: uuid.UUID
    product_id: uuid.UUID
    stars: int = Field(ge=1, le=5)
    title: str = Field(min_length=1, max_length=120)

    @property
    def entity_id(self) -> uuid.UUID:
        return self.review_id


class ReviewEvent(Envelope):
    """review.created / review.updated, keyed by review_id."""

    event_type: Literal["review.created", "review.updated"]
    payload: ReviewPayload


REVIEW_TABLE = Table(
    "reviews",
    MetaData(),
    Column("review_id", Uuid, primary_key=True),
    Column("product_id", Uuid, nullable=False),
    Column("stars", Integer, nullable=False),
    Column("title", String(120), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("produced_at", DateTime(timezone=True)),
    Column("applied_at", DateTime(timezone=True), server_default=func.now()),
)
REVIEWS = Entity(f"review-{RUN}", f"reviews-{RUN}", ReviewEvent, table="reviews", retention_days=1)


def review(review_id: uuid.UUID, version: int) -> ReviewEvent:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=version)
    return ReviewEvent(
        event_id=uuid.uuid4(),
        entity_id=review_id,
        version=version,
        occurred_at=at,
        event_type="review.created" if version == 1 else "review.updated",
        payload=ReviewPayload(review_id=review_id, product_id=uuid.UUID(int=7), stars=version, title=f"v{version}"),
    )


@pytest.fixture
def review_topics(kafka_settings):
    """The entity's topic and dead-letter topic, created the way ``make topics`` creates them."""
    specs = pipeline_topics(3, [REVIEWS])
    assert [s.name for s in specs] == [REVIEWS.topic, REVIEWS.dlq]
    assert [r.action for r in ensure_topics(kafka_settings, specs)] == ["created", "created"]
    yield specs
    admin = admin_client(kafka_settings)
    for future in admin.delete_topics([s.name for s in specs], operation_timeout=30).values():
        future.result(timeout=60)


def test_registry_is_the_only_description():
    """The three production entities come from the registry; a fourth stays out of them."""
    assert [e.topic for e in ENTITIES] == list(CONSUMERS) == list(CONSUMER_GROUPS)
    assert all(CONSUMERS[e.topic].group_id == CONSUMER_GROUPS[e.topic] == e.group for e in ENTITIES)
    assert REVIEWS.topic not in CONSUMERS
    with pytest.raises(ValueError, match="is not an entity topic"):
        entity_of(REVIEWS.topic)
    assert entity_of(REVIEWS.topic, [*ENTITIES, REVIEWS]) is REVIEWS


def test_fourth_entity_flows_to_its_table_and_through_verify(kafka_settings, schema_url, review_topics, running):
    engine = make_engine(schema_url, pool_size=1)
    REVIEW_TABLE.create(engine)
    ids = [uuid.uuid4() for _ in range(5)]
    events = [review(r, v) for v in (1, 2, 3) for r in ids]
    assert topic_of(events[0], [REVIEWS]) == REVIEWS.topic

    with pytest.raises(UnknownTopicError):  # the production producer knows only the registry's entities
        EventProducer(kafka_settings, topics={REVIEWS.topic: REVIEWS.topic})
    producer = EventProducer(kafka_settings, entities=[*ENTITIES, REVIEWS], client_id="review-producer")
    for event in events:
        producer.send(event)
    assert producer.close(timeout=30).ok

    spec = ConsumerSpec.of(REVIEWS, table=REVIEW_TABLE)
    assert (spec.group_id, spec.topic.dlq) == (REVIEWS.group, REVIEWS.dlq)
    running.start(spec.build(kafka_settings, schema_url, batch_timeout_s=0.2))
    wait_until(lambda: caught_up(kafka_settings, REVIEWS.topic, REVIEWS.group), 90, "reviews lag 0")
    with engine.connect() as conn:
        rows = dict(conn.execute(select(REVIEW_TABLE.c.review_id, REVIEW_TABLE.c.version)).all())
    assert rows == dict.fromkeys(ids, 3)

    target = Target.of(REVIEWS, spec)
    report = verify(kafka_settings, schema_url, [target], wait_s=60)
    assert report.exit_code == EXIT_OK, report
    assert report.topics[0].entities == report.topics[0].rows == 5

    with engine.begin() as conn:  # a detector fires for the new entity too
        conn.execute(text("UPDATE reviews SET version = 2 WHERE review_id = :id"), {"id": ids[0]})
    report = verify(kafka_settings, schema_url, [target], wait_s=60)
    assert report.exit_code == EXIT_MISMATCH and report.topics[0].counts["stale"] == 1, report
    engine.dispose()
