"""Who may do what on the secured cluster: one SCRAM principal per role, least privilege.

The broker (its certificate, CN=broker) and ``admin`` are super users; every other principal gets
exactly the ACLs below and nothing else (``allow.everyone.if.no.acl.found=false``). Since Kafka 3.0
an idempotent producer needs ``IdempotentWrite`` on the cluster *or* ``Write`` on a topic (KIP-679),
so the producer's topic writes are enough. GUIDE/SECURITY.md explains each grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.topics import CONSUMER_GROUPS, ENTITY_TOPICS

BROKER = "broker"
ADMIN = "admin"
PRODUCER = "producer"
CONSOLE = "console"
SUPER_USERS = (BROKER, ADMIN)
CLUSTER = "kafka-cluster"  # the one name a cluster resource has
ANY = "*"  # a literal "*" matches every name of its resource type


def consumer_principal(topic: str) -> str:
    """The principal of the consumer group that reads ``topic``."""
    return f"consumer-{topic}"


SCRAM_USERS = (ADMIN, PRODUCER, CONSOLE, *(consumer_principal(t) for t in CONSUMER_GROUPS))


@dataclass(frozen=True, order=True)
class Grant:
    """Allow ``principal`` to do ``operation`` on the resource ``resource``/``name`` (literal match)."""

    principal: str
    resource: str  # "topic" | "group" | "cluster"
    name: str
    operation: str  # a Kafka operation name: READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS ...

    def __str__(self) -> str:
        return f"User:{self.principal} {self.operation} {self.resource}:{self.name}"


def _producer() -> list[Grant]:
    return [Grant(PRODUCER, "topic", t.name, op) for t in ENTITY_TOPICS for op in ("WRITE", "DESCRIBE")]


def _consumers() -> list[Grant]:
    grants = []
    for topic, group in CONSUMER_GROUPS.items():
        who = consumer_principal(topic)
        grants += [Grant(who, "topic", topic, "READ"), Grant(who, "topic", topic, "DESCRIBE")]
        grants += [Grant(who, "group", group, "READ")]
        grants += [Grant(who, "topic", f"{topic}-dlq", "WRITE"), Grant(who, "topic", f"{topic}-dlq", "DESCRIBE")]
    return grants


def _console() -> list[Grant]:
    """The console, ``status`` and ``verify``: describe and read everything, change nothing."""
    grants = [Grant(CONSOLE, "topic", ANY, op) for op in ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")]
    grants += [Grant(CONSOLE, "group", ANY, "DESCRIBE"), Grant(CONSOLE, "cluster", CLUSTER, "DESCRIBE")]
    return grants


def wanted_grants() -> tuple[Grant, ...]:
    """Every ACL the secured cluster should hold, sorted."""
    return tuple(sorted(_producer() + _consumers() + _console()))
