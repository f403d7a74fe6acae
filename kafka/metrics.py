"""Prometheus metrics of the producer and the consumers, kept out of the hot path's way.

prometheus-client's own ``Counter.inc`` and ``Histogram.observe`` take a lock and cost 2-4 µs
each here, a sizeable share of the ~17 µs a message costs the producer. So the hot path only
adds to plain ints and bucket lists (one ``bisect`` per observation), and a collector turns
them into metric families when Prometheus scrapes. One set of counters per process, per topic:
every producer or consumer in the process adds to it, so counters never go down.
``serve(port)`` exposes them on ``/metrics`` (``PIPELINE_METRICS_PORT``; 0 serves nothing).
"""

from __future__ import annotations

import logging
import time
import weakref
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 5, 10, 50, 100, 500, 1_000, 2_500, 5_000, 10_000)


class Buckets:
    """A histogram as a list of bucket counts and a sum; ``observe`` is one bisect."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
        return out


class ProducerMetrics:
    """Produced, acknowledged and failed per topic, delivery latency; queue depth of live producers."""

    def __init__(self) -> None:
        self.produced: defaultdict[str, int] = defaultdict(int)
        self.acknowledged: defaultdict[str, int] = defaultdict(int)
        self.failed: defaultdict[str, int] = defaultdict(int)
        self.latency = Buckets(LATENCY_BUCKETS)
        self.queues: weakref.WeakSet[Any] = weakref.WeakSet()  # EventProducers (queue_depth())

    def delivered(self, topic: str, latency_s: float | None, ok: bool) -> None:
        """One delivery report (called from the producer's delivery callback)."""
        if ok:
            self.acknowledged[topic] += 1
            if latency_s is not None:
                self.latency.observe(latency_s)
        else:
            self.failed[topic] += 1

    def families(self) -> Iterator[Metric]:
        yield _per_topic("pipeline_events_produced", "Events handed to the producer", self.produced)
        yield _per_topic("pipeline_deliveries_acknowledged", "Events all in-sync replicas have", self.acknowledged)
        yield _per_topic("pipeline_deliveries_failed", "Events whose delivery failed", self.failed)
        latency = HistogramMetricFamily("pipeline_delivery_latency_seconds", "From send() to the acknowledgement")
        latency.add_metric([], self.latency.cumulative(), self.latency.sum)
        yield latency
        depth = sum(producer.queue_depth() for producer in list(self.queues))
        yield GaugeMetricFamily("pipeline_producer_queue_depth", "Messages in the producers' local queue", depth)


class TopicConsumerMetrics:
    """One topic's consumer figures in this process."""

    def __init__(self) -> None:
        self.applied = self.stale = self.dead_lettered = 0
        self.batch_size = Buckets(BATCH_BUCKETS)
        self.apply_seconds = Buckets(LATENCY_BUCKETS)
        self.end_to_end = Buckets(LATENCY_BUCKETS)

    def written(self, timestamps_ms: Iterable[int], applied: int, rejected: int, seconds: float) -> None:
        """A batch is committed in PostgreSQL: ``applied`` rows changed, ``rejected`` were dead-lettered.

        ``timestamps_ms`` are the records' timestamps (set by the producer in the same ``send``
        that stamps ``produced_at``); end to end is from there to now, the database commit.
        """
        now_ms = time.time() * 1000
        records = 0
        for ts in timestamps_ms:
            records += 1
            self.end_to_end.observe(max(now_ms - ts, 0.0) / 1000)
        if not records:  # the batch was all dead letters
            return
        self.applied += applied
        self.stale += max(records - applied - rejected, 0)
        self.batch_size.observe(records)
        self.apply_seconds.observe(seconds)


PRODUCER = ProducerMetrics()
CONSUMERS: defaultdict[str, TopicConsumerMetrics] = defaultdict(TopicConsumerMetrics)


def consumer_metrics(topic: str) -> TopicConsumerMetrics:
    """The process's figures for ``topic`` (shared by every consumer of it in this process)."""
    return CONSUMERS[topic]


CONSUMER_HISTOGRAMS = (
    ("pipeline_consumer_batch_size", "Records per batch written", "batch_size"),
    ("pipeline_apply_seconds", "Time to write one batch into PostgreSQL", "apply_seconds"),
    ("pipeline_end_to_end_seconds", "From the producer's send to the PostgreSQL commit", "end_to_end"),
)


class _Collector:
    """Turns the plain counters into metric families at scrape time."""

    def collect(self) -> Iterator[Metric]:
        yield from PRODUCER.families()
        topics = sorted(CONSUMERS.items())
        yield _per_topic("pipeline_events_applied", "Rows inserted or updated in PostgreSQL",
                         {t: m.applied for t, m in topics})  # fmt: skip
        yield _per_topic("pipeline_events_stale", "Events the version guard skipped (already applied or older)",
                         {t: m.stale for t, m in topics})  # fmt: skip
        yield _per_topic("pipeline_events_dead_lettered", "Events sent to the dead-letter topic",
                         {t: m.dead_lettered for t, m in topics})  # fmt: skip
        for name, doc, attr in CONSUMER_HISTOGRAMS:
            family = HistogramMetricFamily(name, doc, labels=["topic"])
            for topic, metrics in topics:
                buckets: Buckets = getattr(metrics, attr)
                family.add_metric([topic], buckets.cumulative(), buckets.sum)
            yield family


def _per_topic(name: str, doc: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=["topic"])
    for topic, value in sorted(values.items()):
        family.add_metric([topic], value)
    return family


REGISTRY.register(_Collector())


def serve(port: int, host: str = "127.0.0.1") -> str | None:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; the address, or None when off or taken.

    A port already in use is logged and the process goes on without metrics: they must never
    stop the pipeline.
    """
    if not port:
        return None
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics not served", extra={"fields": {"address": f"{host}:{port}", "error": str(exc)}})
        return None
    log.info("metrics served", extra={"fields": {"address": f"{host}:{port}"}})
    return f"{host}:{port}"
