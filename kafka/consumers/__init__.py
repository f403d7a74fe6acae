"""The three entity consumers, by topic name (``users``, ``products``, ``orders``)."""

from kafka.consumers.order_consumer import ORDER_CONSUMER
from kafka.consumers.product_consumer import PRODUCT_CONSUMER
from kafka.consumers.spec import ConsumerSpec
from kafka.consumers.user_consumer import USER_CONSUMER

CONSUMERS: dict[str, ConsumerSpec] = {
    spec.topic.name: spec for spec in (USER_CONSUMER, PRODUCT_CONSUMER, ORDER_CONSUMER)
}

__all__ = ["CONSUMERS", "ConsumerSpec", "ORDER_CONSUMER", "PRODUCT_CONSUMER", "USER_CONSUMER"]
