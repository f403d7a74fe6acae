"""Brokers (up or down) and partition health for the Cluster view.

A broker killed with SIGKILL stays in the cluster metadata until the controller fences it
(``broker.session.timeout.ms``, about 9 s), so metadata alone reports a dead broker as alive
for a while. Each broker address is therefore also probed with a TCP connect: refused means
down now. Addresses come from the bootstrap list and from the registered brokers, so a broker
that vanished from the metadata is still listed (as down) under the id it had.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from apps.console.errors import SourceUnavailable
from apps.console.kafka_admin import KafkaAdmin


def reachable(address: str, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


class ClusterReader:
    """The Cluster view: brokers with state, controller, under-replicated and offline partitions."""

    def __init__(self, admin: KafkaAdmin) -> None:
        self.admin = admin
        self._known: dict[str, dict[str, Any]] = {}  # address -> last seen broker (id, rack)
        self._lock = threading.Lock()

    def brokers(self) -> dict[str, Any]:
        """Every broker we know of, with ``status`` up / down / not registered."""
        registered: dict[str, dict[str, Any]] = {}
        cluster_id = controller = error = None
        try:
            described = self.admin.describe_cluster()
            cluster_id = described.cluster_id
            controller = described.controller.id if described.controller else None
            for node in described.nodes:
                registered[f"{node.host}:{node.port}"] = {"id": node.id, "rack": node.rack}
        except SourceUnavailable as exc:
            # DescribeCluster waits for the controller librdkafka last knew of; when that node was just
            # killed, any live broker's metadata still lists the registered brokers (without racks)
            try:
                metadata = self.admin.metadata()
                cluster_id, controller = metadata.cluster_id, metadata.controller_id
                registered = {f"{b.host}:{b.port}": {"id": b.id} for b in metadata.brokers.values()}
            except SourceUnavailable:
                error = exc.detail
        with self._lock:
            for address, broker in registered.items():
                self._known[address] = self._known.get(address, {}) | broker
            addresses = sorted(set(self.admin.bootstrap_addresses) | set(self._known), key=self._order)
            known = {a: self._known.get(a, {}) for a in addresses}
        rows = []
        for address in addresses:
            is_up = reachable(address)
            status = "up" if is_up and address in registered else "down" if not is_up else "not registered"
            if error is not None and is_up:
                status = "unknown"
            host, _, port = address.rpartition(":")
            rows.append({**known[address], "address": address, "host": host, "port": int(port), "status": status})
        rows.sort(key=lambda r: (r.get("id") is None, r.get("id") or 0, r["address"]))
        up = sum(r["status"] == "up" for r in rows)
        return {
            "data": rows,
            "count": len(rows),
            "up": up,
            "cluster_id": cluster_id,
            "controller_id": controller,
            "error": error,
        }

    def down_ids(self) -> set[int]:
        """Ids of the brokers seen before that refuse connections now (a fresh TCP probe each call)."""
        with self._lock:
            known = {a: b["id"] for a, b in self._known.items() if b.get("id") is not None}
        return {node_id for address, node_id in known.items() if not reachable(address)}

    def _order(self, address: str) -> tuple[int, str]:
        return (self._known.get(address, {}).get("id") or 1_000_000, address)

    def partition_health(self) -> dict[str, Any]:
        """Partitions whose ISR is smaller than the replica set, and those without a leader."""
        metadata = self.admin.metadata()
        under, offline, total = [], [], 0
        for topic in sorted(metadata.topics.values(), key=lambda t: t.topic):
            for p in sorted(topic.partitions.values(), key=lambda p: p.id):
                total += 1
                row = {"topic": topic.topic, "partition": p.id, "leader": p.leader}
                row |= {"replicas": list(p.replicas), "isr": list(p.isrs)}
                if p.leader < 0:
                    offline.append(row)
                elif len(p.isrs) < len(p.replicas):
                    under.append(row)
        return {
            "partitions": total,
            "under_replicated": {"data": under, "count": len(under)},
            "offline": {"data": offline, "count": len(offline)},
        }
