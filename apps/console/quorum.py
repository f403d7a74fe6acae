"""The KRaft controller quorum (leader, voters, lag), cached because asking costs ~2 s of CPU.

``KafkaCluster.quorum_status()`` runs Kafka's MetadataQuorumCommand in a JVM. It runs in a
worker thread at most once per ``ttl_s``; requests get the cached answer (with its age) and
trigger a refresh when it is stale, so a slow JVM never blocks the event loop or the page.
Without the local runtime's jars (Docker runtime) the quorum is reported as ``unknown``.

A cached answer can name a node that has just died as the leader. Callers pass the nodes that
are down now (``ClusterReader.down_ids``): such an answer is served as ``leader down`` (never
as the dead node leading) and refreshed every ``recheck_s`` until a live leader is reported.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from apps.runtime.external import external_bootstrap
from apps.runtime.kafka_cluster import KafkaCluster
from common.settings import KafkaSettings, RuntimeSettings

Probe = Callable[[], dict[str, str]]


def _ids(text: str | None) -> list[int]:
    """Node ids from ``CurrentVoters``: JSON objects in Kafka 4 (``[{"id": 1, ...}]``), ints before."""
    if not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if isinstance(items, list):
        return sorted(int(i["id"]) if isinstance(i, dict) else int(i) for i in items)
    found = re.findall(r'"id":\s*(\d+)', text) or re.findall(r"\d+", text)
    return sorted({int(x) for x in found})


def parse_status(raw: dict[str, str]) -> dict[str, Any]:
    """``describe --status`` lines -> leader id, epoch, voters, observers, lag."""
    leader = raw.get("LeaderId", "")
    if not re.fullmatch(r"\d+", leader):
        return {"state": "no leader", "leader_id": None, "raw": raw}
    return {
        "state": "ok",
        "leader_id": int(leader),
        "leader_epoch": int(raw["LeaderEpoch"]) if raw.get("LeaderEpoch", "").isdigit() else None,
        "high_watermark": int(raw["HighWatermark"]) if raw.get("HighWatermark", "").isdigit() else None,
        "max_follower_lag": int(raw["MaxFollowerLag"]) if raw.get("MaxFollowerLag", "").isdigit() else None,
        "voters": _ids(raw.get("CurrentVoters")),
        "observers": _ids(raw.get("CurrentObservers")),
        "cluster_id": raw.get("ClusterId"),
    }


def local_probe(runtime: RuntimeSettings | None, kafka: KafkaSettings | None = None) -> tuple[Probe | None, str]:
    """The quorum probe for the local runtime, or ``None`` and the reason it is not available."""
    if runtime is None or runtime.runtime == "docker":
        return None, "the quorum tool needs the local runtime (PIPELINE_RUNTIME=local)"
    cluster = KafkaCluster(runtime)
    if external_bootstrap(kafka, cluster.bootstrap_servers):
        return None, "Kafka is external (PIPELINE_KAFKA_BOOTSTRAP_SERVERS): the quorum tool reads our cluster only"
    if not any(cluster.libs.glob("kafka_2.13-*.jar")):
        return None, f"Kafka jars not found in {cluster.libs} (PIPELINE_RUNTIME_DIR / PIPELINE_KAFKA_LIBS_DIR)"
    return (lambda: cluster.quorum_status(timeout_s=20)), ""


class QuorumCache:
    """Serve the last quorum status; refresh it in the background when older than ``ttl_s``."""

    def __init__(self, probe: Probe | None, unavailable: str = "", ttl_s: float = 20.0, recheck_s: float = 3.0) -> None:
        self.probe = probe
        self.unavailable = unavailable
        self.ttl_s = ttl_s
        self.recheck_s = recheck_s
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None

    def _refresh(self) -> None:
        assert self.probe is not None
        try:
            value = parse_status(self.probe())
            if value["state"] != "ok":
                value["detail"] = "the quorum tool found no leader (brokers unreachable?)"
        except Exception as exc:  # noqa: BLE001 - any failure of the tool is a state on the page
            value = {"state": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        with self._lock:
            self._value, self._at, self._refreshing = value, time.monotonic(), None

    def get(self, wait_s: float = 10.0, down: Collection[int] = ()) -> dict[str, Any]:
        """Cached status plus ``age_s``; the first call waits up to ``wait_s`` for an answer.

        ``down``: node ids known to be down now; a cached leader among them is not served as leader.
        """
        if self.probe is None:
            return {"state": "unknown", "detail": self.unavailable}
        with self._lock:
            leader_down = self._value is not None and self._value.get("leader_id") in down
            ttl = self.recheck_s if leader_down else self.ttl_s
            stale = self._value is None or time.monotonic() - self._at > ttl
            if stale and self._refreshing is None:
                self._refreshing = threading.Thread(target=self._refresh, name="quorum-probe", daemon=True)
                self._refreshing.start()
            worker = self._refreshing
        if self._value is None and worker is not None:
            worker.join(wait_s)
        with self._lock:
            if self._value is None:
                return {"state": "loading", "detail": "asking the controllers..."}
            value = {**self._value, "age_s": round(time.monotonic() - self._at, 1)}
        if value.get("leader_id") in down:
            dead = value.pop("leader_id")
            value |= {
                "state": "leader down",
                "leader_id": None,
                "last_leader_id": dead,
                "detail": f"node {dead}, the last known leader, is down; waiting for the quorum to report a new one",
            }
        return value
