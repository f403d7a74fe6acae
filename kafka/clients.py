"""The one place Kafka clients are built: every producer, consumer and admin client of the pipeline.

Each starts from ``kafka.config.client_config``, so the connection and security settings
(``PIPELINE_KAFKA_SECURITY_PROTOCOL``, SASL, TLS) reach all of them; ``extra`` adds librdkafka
options for one use (a logger, a timeout, a callback) and never replaces the security ones by
accident, because callers pass only what they need on top.

The local runtime's provisioning clients (``apps/runtime/kafka_cluster.py``,
``apps/runtime/kafka_security.py``) are the exception: they talk to the brokers as the broker's
own super user on the internal listener, before any pipeline principal exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from common.settings import KafkaSettings
from kafka.config import client_config, consumer_config, producer_config

Extra = Mapping[str, Any] | None


def admin(settings: KafkaSettings, client_id: str | None = None, extra: Extra = None) -> AdminClient:
    """An admin client (topics, groups, ACLs, metadata)."""
    return AdminClient(client_config(settings, client_id) | dict(extra or {}))


def admin_from(conf: Mapping[str, Any]) -> AdminClient:
    """An admin client from a config a parent process built with ``client_config`` (a child process)."""
    return AdminClient(dict(conf))


def producer(settings: KafkaSettings, client_id: str | None = None, extra: Extra = None) -> Producer:
    """A durable producer (``producer_config``: acks=all, idempotence, the Java partitioner)."""
    return Producer(producer_config(settings, client_id) | dict(extra or {}))


def plain_producer(settings: KafkaSettings, client_id: str | None = None, extra: Extra = None) -> Producer:
    """A producer with only the connection settings and ``extra`` (benchmarks that set every knob)."""
    return Producer(client_config(settings, client_id) | dict(extra or {}))


def consumer(settings: KafkaSettings, group_id: str, client_id: str | None = None, extra: Extra = None) -> Consumer:
    """A group consumer that commits only when told (``consumer_config``)."""
    return Consumer(consumer_config(settings, group_id, client_id) | dict(extra or {}))


def plain_consumer(settings: KafkaSettings, client_id: str | None = None, extra: Extra = None) -> Consumer:
    """A consumer with only the connection settings and ``extra`` (the console's message browser)."""
    return Consumer(client_config(settings, client_id) | dict(extra or {}))
