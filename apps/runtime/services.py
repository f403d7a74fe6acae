"""The 17 services of the pipeline, named the same in the local and the Docker runtime.

Seventeen at the default settings: ``PIPELINE_CONSUMER_INSTANCES`` (three) sets the members per group.

Order matters: brokers and PostgreSQL first, then ``topic-init`` (one-shot), then the
consumers, the producer and the console. ``python-dev`` exists only in Docker's dev profile
(locally your own shell plays its part).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from common.entities import ENTITIES

INSTANCES_PER_GROUP = 3


@dataclass(frozen=True)
class PythonService:
    """A service that runs one of the project's Python modules."""

    name: str
    group: str
    module: str
    args: tuple[str, ...] = ()
    oneshot: bool = False

    def argv(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", self.module, *self.args]


KAFKA_SERVICES = ("kafka-1", "kafka-2", "kafka-3")
DATABASE_SERVICES = ("postgres",)
DEV_ONLY_SERVICES = ("python-dev",)


def consumer_services(instances: int = INSTANCES_PER_GROUP) -> list[PythonService]:
    """``<entity>-consumer-<n>`` for each topic's group, ``instances`` each (nine by default)."""
    services = []
    for entity in ENTITIES:
        for instance in range(1, instances + 1):
            services.append(
                PythonService(
                    name=entity.client_id(instance),
                    group="consumers",
                    module="apps.pipeline.consume",
                    args=("--group", entity.topic, "--instance", str(instance)),
                )
            )
    return services


TOPIC_INIT = PythonService("topic-init", "init", "apps.pipeline.topics", oneshot=True)
PRODUCER = PythonService("producer", "producer", "apps.pipeline.produce")
CONSOLE = PythonService("kafka-ui", "console", "apps.console")


def metrics_ports(base: int, instances: int = INSTANCES_PER_GROUP) -> dict[str, int]:
    """The producer serves its Prometheus metrics on ``base``, the consumers on the next ports; 0: none.

    Member by member (every group's first, then every group's second ...), so more instances add
    ports after the others and move none: a running member's program keeps its settings, and
    ``start-consumers`` with a larger instance count starts the new members without restarting any.
    """
    if not base:
        return {}
    members = [entity.client_id(n) for n in range(1, instances + 1) for entity in ENTITIES]
    return {name: base + i for i, name in enumerate([PRODUCER.name, *members])}


def python_services(instances: int = INSTANCES_PER_GROUP) -> list[PythonService]:
    """Python services in start order."""
    return [TOPIC_INIT, *consumer_services(instances), PRODUCER, CONSOLE]


def all_service_names(include_dev: bool = True, instances: int = INSTANCES_PER_GROUP) -> list[str]:
    """Every service name, as both runtimes must define them."""
    names = [*KAFKA_SERVICES, *DATABASE_SERVICES, *(s.name for s in python_services(instances))]
    return names + list(DEV_ONLY_SERVICES) if include_dev else names
