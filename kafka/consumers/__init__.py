"""The entity consumers, by topic name, one per entity of ``common/entities.py``."""

from common.entities import ENTITIES, ORDERS, PRODUCTS, USERS
from kafka.consumers.spec import ConsumerSpec

CONSUMERS: dict[str, ConsumerSpec] = {entity.topic: ConsumerSpec.of(entity) for entity in ENTITIES}
USER_CONSUMER, PRODUCT_CONSUMER, ORDER_CONSUMER = (CONSUMERS[e.topic] for e in (USERS, PRODUCTS, ORDERS))

__all__ = ["CONSUMERS", "ConsumerSpec", "ORDER_CONSUMER", "PRODUCT_CONSUMER", "USER_CONSUMER"]
