"""Misuse of the producer wrapper: raised at ``send()`` time, before anything is queued."""

from __future__ import annotations

from kafka.producer.serializers import SerializationError


class ProducerError(Exception):
    """Base class of the wrapper's own errors."""


class UnknownTopicError(ProducerError, ValueError):
    """The topic is not an entity topic of kafka/topics.py, does not fit the event, or is missing."""


class MessageTooLargeError(ProducerError, ValueError):
    """The serialized event is larger than ``message.max.bytes``; Kafka would reject it."""


class ProducerClosedError(ProducerError, RuntimeError):
    """``send()`` after ``close()``."""


__all__ = ["MessageTooLargeError", "ProducerClosedError", "ProducerError", "SerializationError", "UnknownTopicError"]
