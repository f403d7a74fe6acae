"""librdkafka configuration dictionaries built from ``KafkaSettings``.

Every client (producer, consumer, admin) gets its connection and security settings here, so
SASL/TLS is switched on for all of them by one setting.
"""

from __future__ import annotations

from typing import Any

from common.settings import KafkaSettings


def client_config(settings: KafkaSettings, client_id: str | None = None) -> dict[str, Any]:
    """Connection and security settings shared by every Kafka client."""
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": client_id or settings.client_id,
        "security.protocol": settings.security_protocol,
    }
    if settings.security_protocol.startswith("SASL"):
        conf |= {
            "sasl.mechanism": settings.sasl_mechanism,
            "sasl.username": settings.sasl_username,
            "sasl.password": settings.sasl_secret(),
        }
    if settings.security_protocol.endswith("SSL") and settings.ssl_ca_location:
        conf["ssl.ca.location"] = str(settings.ssl_ca_location)
    return conf


def producer_config(settings: KafkaSettings, client_id: str | None = None) -> dict[str, Any]:
    """Durable producer: acks=all and idempotence, so retries never duplicate or reorder."""
    return client_config(settings, client_id) | {
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": settings.compression_type,
        "linger.ms": settings.linger_ms,
        "batch.size": settings.batch_size,
        "queue.buffering.max.messages": settings.queue_buffering_max_messages,
        "delivery.timeout.ms": settings.delivery_timeout_ms,
        # Java-client compatible partitioning: murmur2 of the key, like the JVM producer.
        "partitioner": "murmur2_random",
    }


def consumer_config(settings: KafkaSettings, group_id: str, client_id: str | None = None) -> dict[str, Any]:
    """Consumer that never commits on its own: offsets are committed after the database commit."""
    return client_config(settings, client_id) | {
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.session_timeout_ms,
        "max.poll.interval.ms": settings.max_poll_interval_ms,
        "isolation.level": "read_committed",
        "fetch.min.bytes": settings.consumer_fetch_min_bytes,
        "fetch.wait.max.ms": settings.consumer_fetch_wait_max_ms,
    }
