"""The console's ``GET /metrics``: the cluster and the whole pipeline in one Prometheus scrape.

Three parts, each failing on its own (a part that cannot be read is left out, never an error):
- the cluster: brokers up and known, under-replicated and offline partitions (``ClusterReader``);
- lag per group and partition from the sampler's latest reading (no extra Kafka request);
- every service's own metrics (``PIPELINE_CONSOLE_METRICS_TARGETS``: the producer and the
  consumers, see ``kafka/metrics.py``), scraped in parallel and re-exposed with a ``service``
  label, plus ``pipeline_service_up{service}``. Prometheus then needs only this one target.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from apps.console.errors import SourceUnavailable

if TYPE_CHECKING:
    from apps.console.context import ConsoleContext

log = logging.getLogger(__name__)
PREFIX = "pipeline_"


def scrape(address: str, timeout_s: float) -> list[Metric]:
    """The ``pipeline_*`` families one service exposes at ``http://address/metrics``."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout_s) as answer:  # noqa: S310 - our own
        text = answer.read().decode("utf-8", errors="replace")
    return [family for family in text_string_to_metric_families(text) if family.name.startswith(PREFIX)]


class PipelineCollector:
    """Collects at scrape time; registered in the console's own registry (see ``ConsoleContext``)."""

    def __init__(self, context: ConsoleContext, targets: dict[str, str], timeout_s: float = 2.0) -> None:
        self.context = context
        self.targets = targets
        self.timeout_s = timeout_s

    def collect(self) -> Iterator[Metric]:
        yield from self._cluster()
        yield self._lag()
        yield from self._services()

    def _cluster(self) -> Iterator[Metric]:
        brokers = self.context.cluster.brokers()
        yield GaugeMetricFamily("pipeline_brokers_up", "Brokers registered and accepting connections", brokers["up"])
        yield GaugeMetricFamily("pipeline_brokers", "Brokers known (bootstrap list and registered)", brokers["count"])
        try:
            health = self.context.cluster.partition_health()
        except SourceUnavailable:
            return
        urp = health["under_replicated"]["count"]
        yield GaugeMetricFamily("pipeline_under_replicated_partitions", "Partitions whose ISR is short", urp)
        offline = health["offline"]["count"]
        yield GaugeMetricFamily("pipeline_offline_partitions", "Partitions without a leader", offline)

    def _lag(self) -> Metric:
        family = GaugeMetricFamily(
            "pipeline_consumer_lag", "Messages behind the end offset", labels=["group", "topic", "partition"]
        )
        for (group, topic, partition), lag in sorted(self.context.sampler.partition_lag().items()):
            family.add_metric([group, topic, str(partition)], lag)
        return family

    def _services(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pipeline_service_up", "The service's metrics endpoint answered", labels=["service"])
        merged: dict[str, Metric] = {}
        if self.targets:
            with ThreadPoolExecutor(min(len(self.targets), 8), thread_name_prefix="metrics-scrape") as pool:
                answers = pool.map(self._scrape, self.targets.items())
                for service, families in answers:
                    up.add_metric([service], 0 if families is None else 1)
                    for family in families or []:
                        into = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                        for sample in family.samples:
                            if not sample.name.endswith("_created"):
                                into.add_sample(sample.name, {**sample.labels, "service": service}, sample.value)
        yield up
        yield from merged.values()

    def _scrape(self, target: tuple[str, str]) -> tuple[str, list[Metric] | None]:
        service, address = target
        try:
            return service, scrape(address, self.timeout_s)
        except (OSError, ValueError) as exc:
            log.debug("metrics scrape failed", extra={"fields": {"service": service, "error": str(exc)}})
            return service, None
