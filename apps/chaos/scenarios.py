"""The chaos scenarios: one small fault function each, all run by ``apps.chaos.runner``.

A fault breaks one part of the running pipeline, waits ``fault_s`` where that makes sense, gives
the part back and calls ``run.lifted()``. It never has to clean up after itself: the runner
restores the whole runtime in ``finally``.
"""

from __future__ import annotations

import os
import signal
import time

from apps.chaos import health
from apps.chaos.runner import Run, Scenario
from apps.runtime.errors import RuntimeProblem
from common.entities import ORDERS
from kafka import clients


def leader_of(run: Run, topic: str = ORDERS.topic, partition: int = 0) -> str:
    """The service name of the broker leading ``topic[partition]``: the node whose loss hurts."""
    metadata = clients.admin(run.chaos.kafka, "chaos").list_topics(topic, timeout=10)
    return f"kafka-{metadata.topics[topic].partitions[partition].leader}"


def sigkill(run: Run, name: str) -> None:
    """SIGKILL a supervised service and keep it down (supervisord would restart it at once)."""
    supervisor = run.chaos.runtime.supervisor
    os.kill(supervisor.state(name)["pid"], signal.SIGKILL)
    supervisor.stop(name)


def broker_kill(run: Run) -> None:
    """SIGKILL the leader of orders[0]; restart it after ``fault_s``."""
    name = leader_of(run)
    sigkill(run, name)
    time.sleep(run.chaos.fault_s)
    run.chaos.runtime.supervisor.start(name, wait=False)
    run.lifted()


def broker_rolling(run: Run) -> None:
    """Restart the three brokers one by one (SIGTERM, controlled shutdown), each back in sync first."""
    runtime = run.chaos.runtime
    for name in runtime.names("kafka"):
        runtime.supervisor.stop(name)
        runtime.supervisor.start(name, wait=False)
        run.lifted()
        health.wait_for(lambda: health.cluster_healthy(run.chaos.kafka), run.chaos.timeout_s, f"{name} in sync")


def broker_freeze(run: Run) -> None:
    """SIGSTOP the leader of orders[0] (hung, not dead: its sockets stay open); SIGCONT after ``fault_s``."""
    name = leader_of(run)
    run.chaos.runtime.supervisor.signal(name, "STOP")
    try:
        time.sleep(run.chaos.fault_s)
    finally:
        run.chaos.runtime.supervisor.signal(name, "CONT")
        run.lifted()


def consumer_kill(run: Run) -> None:
    """SIGKILL instance 2 of every group mid-batch; supervisord restarts it, as in production."""
    for name in run.chaos.runtime.names("consumers"):
        if name.endswith("-2"):
            run.chaos.runtime.supervisor.signal(name, "KILL")
    run.lifted()


def consumer_scale(run: Run) -> None:
    """Stop two of the three instances of every group; start them again after ``fault_s``."""
    runtime = run.chaos.runtime
    victims = [name for name in runtime.names("consumers") if not name.endswith("-1")]
    for name in victims:
        runtime.supervisor.stop(name)
    time.sleep(run.chaos.fault_s)
    for name in victims:
        runtime.supervisor.start(name, wait=False)
    run.lifted()


def _local_postgres(run: Run) -> None:
    if run.chaos.runtime.external_db:
        raise RuntimeProblem("db scenarios need the runtime's own PostgreSQL (PIPELINE_DATABASE_URL names another)")


def db_outage(run: Run) -> None:
    """Stop PostgreSQL for ``fault_s``: consumers retry the same batch and commit nothing meanwhile."""
    _local_postgres(run)
    run.chaos.runtime.supervisor.stop("postgres")
    time.sleep(run.chaos.fault_s)
    run.chaos.runtime.supervisor.start("postgres", wait=False)
    run.lifted()


def db_restart(run: Run) -> None:
    """A fast PostgreSQL restart: every pooled connection breaks at once."""
    _local_postgres(run)
    run.chaos.runtime.supervisor.stop("postgres")
    run.chaos.runtime.supervisor.start("postgres", wait=False)
    run.lifted()


def no_fault(run: Run) -> None:
    """Poison needs no fault: the load itself mixes 1% rejects into every topic."""


def producer_kill(run: Run) -> None:
    """SIGKILL the generator mid-load; its ledger holds exactly what Kafka had acknowledged."""
    run.load.send_signal(signal.SIGKILL)
    run.load.wait(30)
    run.lifted()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("broker-kill", broker_kill, "SIGKILL the leader of orders[0] for fault_s, then restart"),
        Scenario("broker-rolling", broker_rolling, "restart the three brokers one by one"),
        Scenario("broker-freeze", broker_freeze, "SIGSTOP the leader of orders[0] for fault_s, then SIGCONT"),
        Scenario("consumer-kill", consumer_kill, "SIGKILL one instance of each group mid-batch"),
        Scenario("consumer-scale", consumer_scale, "stop two of three instances per group for fault_s"),
        Scenario("db-outage", db_outage, "PostgreSQL stopped for fault_s"),
        Scenario("db-restart", db_restart, "PostgreSQL stopped and started at once"),
        Scenario("poison", no_fault, "1% malformed or schema-violating messages in every topic", poison=True),
        Scenario("producer-kill", producer_kill, "SIGKILL the load generator mid-run", kills_load=True),
    )
}
