"""Is the runtime healthy again? Waits used around every fault, and the restore that always runs.

Healthy means: every broker registered and every partition of the pipeline's topics with a leader
and a full in-sync replica set, PostgreSQL accepting connections, and every consumer group with
the members it had before the scenario.
"""

from __future__ import annotations

import contextlib
import socket
import time
import xmlrpc.client
from collections.abc import Callable

from apps.runtime.errors import RuntimeProblem
from apps.runtime.local import LocalRuntime
from common.settings import KafkaSettings
from kafka import clients
from kafka.admin.inspect import groups_members
from kafka.offsets import partition_offsets
from kafka.topics import ALL_TOPICS, CONSUMER_GROUPS


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> float:
    """Poll ``predicate`` (exceptions count as "not yet"); returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - a service on its way back answers with errors
            pass
        if time.monotonic() - started > timeout_s:
            raise RuntimeProblem(f"chaos: timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def cluster_healthy(settings: KafkaSettings, brokers: int = 3) -> bool:
    """All brokers in the metadata, and no pipeline partition leaderless or under-replicated."""
    metadata = clients.admin(settings, "chaos-health", {"log_level": 0}).list_topics(timeout=5)
    if len(metadata.brokers) < brokers:
        return False
    # Metadata lags a SIGKILL by the broker session timeout (and the ISR by replica.lag.time.max.ms),
    # so a broker that died a moment ago still looks healthy there: it must also accept connections.
    if not all(_accepts(b.host, b.port) for b in metadata.brokers.values()):
        return False
    names = {spec.name for spec in ALL_TOPICS}
    return all(
        p.leader >= 0 and len(p.isrs) == len(p.replicas)
        for name, topic in metadata.topics.items()
        if name in names
        for p in topic.partitions.values()
    )


def total_lag(settings: KafkaSettings) -> int:
    """Uncommitted messages of every consumer group over its topic."""
    return sum(p.lag for topic, group in CONSUMER_GROUPS.items() for p in partition_offsets(settings, topic, group))


def members(settings: KafkaSettings) -> dict[str, int]:
    """Consumer group -> members now."""
    described = groups_members(settings, list(CONSUMER_GROUPS.values()))
    return {group: len(description["members"]) for group, description in described.items()}


def running(runtime: LocalRuntime, group: str) -> set[str]:
    """Services of ``group`` that supervisord reports RUNNING."""
    return {name for name in runtime.names(group) if runtime.supervisor.state(name)["statename"] == "RUNNING"}


def restore(runtime: LocalRuntime, settings: KafkaSettings, consumers: set[str], timeout_s: float = 240) -> None:
    """Brokers and PostgreSQL up (resumed if frozen), exactly ``consumers`` running, cluster in sync.

    Every scenario calls it in ``finally``, so a failed run still leaves a healthy runtime.
    """
    for name in runtime.names("kafka"):
        with contextlib.suppress(xmlrpc.client.Fault):  # not running: nothing to resume
            runtime.supervisor.signal(name, "CONT")  # a frozen broker first, or it never answers
        runtime.supervisor.start(name, wait=False)
    for name in runtime.names("database"):
        runtime.supervisor.start(name, wait=False)
    if not runtime.external_db:
        runtime.wait_postgres(timeout_s)
    for name in runtime.names("consumers"):
        if name in consumers:
            runtime.supervisor.start(name, wait=False)
        else:
            runtime.supervisor.stop(name)
    wait_for(lambda: cluster_healthy(settings), timeout_s, "every broker back and in sync")
