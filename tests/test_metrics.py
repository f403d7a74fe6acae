"""Prometheus metrics: each counter fires when its event happens, and the console's one scrape
shows the whole pipeline (cluster, lag, producer, consumers) while the realtime generator runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from apps.console.main import create_app
from apps.runtime.checks import free_port
from common.events import OrderEvent
from common.settings import PROJECT_ROOT, ConsoleSettings, DatabaseSettings, KafkaSettings
from kafka import metrics
from kafka.consumers import ORDER_CONSUMER
from kafka.producer.producer import EventProducer
from tests.consumer_events import caught_up, order_history, produce, wait_until
from tests.exactly_once_support import stop

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """Family names, and every sample keyed by (sample name, sorted labels)."""
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def test_consumer_counts_applied_stale_and_dead_lettered(kafka_settings, schema_url, names, running) -> None:
    """Send every event twice and two poison messages: the second copies are stale, the poison dead-lettered."""
    topic, dlq, group = names("orders", partitions=1)
    events = order_history(30)
    produce(kafka_settings, topic, events, raw=[b"{not json", b"[]"])
    produce(kafka_settings, topic, events)
    running.start(ORDER_CONSUMER.build(kafka_settings, schema_url, 1, topic=topic, group_id=group, dlq_topic=dlq))
    wait_until(lambda: caught_up(kafka_settings, topic, group), 60, "lag 0")
    counted = metrics.consumer_metrics(topic)
    assert counted.dead_lettered == 2
    assert counted.applied + counted.stale == 2 * len(events)
    assert counted.stale >= len(events)  # every second copy at least; versions of one order in one batch too
    assert len({e.entity_id for e in events}) <= counted.applied <= len(events)
    assert sum(counted.end_to_end.counts) == 2 * len(events)
    _, samples = parse(generate_latest().decode())
    assert total(samples, "pipeline_events_dead_lettered_total", topic=topic) == 2
    assert total(samples, "pipeline_end_to_end_seconds_count", topic=topic) == 2 * len(events)


def test_producer_counts_acknowledged_and_failed(kafka_settings, make_topic) -> None:
    """A topic whose max.message.bytes no event fits: every delivery fails and is counted as failed."""
    good = make_topic(partitions=3)
    tiny = make_topic(partitions=1, config={"min.insync.replicas": "2", "max.message.bytes": "64"})
    events: list[OrderEvent] = order_history(10)
    with EventProducer(kafka_settings, topics={"orders": good}) as producer:
        for event in events:
            producer.send(event)
    with EventProducer(kafka_settings, topics={"orders": tiny}) as producer:
        for event in events[:3]:
            producer.send(event)
    _, samples = parse(generate_latest().decode())
    assert total(samples, "pipeline_events_produced_total", topic=good) == len(events)
    assert total(samples, "pipeline_deliveries_acknowledged_total", topic=good) == len(events)
    assert total(samples, "pipeline_deliveries_failed_total", topic=tiny) == 3
    assert total(samples, "pipeline_deliveries_acknowledged_total", topic=tiny) == 0
    assert total(samples, "pipeline_delivery_latency_seconds_count") >= len(events)


@pytest.fixture
def pipeline(kafka_settings: KafkaSettings, schema_url: str, names) -> Iterator[dict[str, str]]:
    """The realtime generator and one consumer per entity, as subprocesses serving metrics on free ports."""
    env = os.environ | {"PIPELINE_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
                        "PIPELINE_DATABASE_URL": schema_url, "PIPELINE_SEED_USERS": "100",
                        "PIPELINE_SEED_PRODUCTS": "100"}  # fmt: skip
    processes, targets, topic_args = [], {}, []
    try:
        for entity in ("users", "products", "orders"):
            topic, dlq, group = names(entity)
            topic_args += ["--topic", f"{entity}={topic}"]
            port = free_port()
            targets[f"{entity}-consumer"] = f"127.0.0.1:{port}"
            argv = ["apps.pipeline.consume", "--group", entity, "--topic", topic, "--group-id", group,
                    "--dlq-topic", dlq]  # fmt: skip
            processes.append(_spawn(argv, env | {"PIPELINE_METRICS_PORT": str(port)}))
        port = free_port()
        targets["producer"] = f"127.0.0.1:{port}"
        argv = ["apps.pipeline.produce", "--rate", "40", "--no-check-seed", *topic_args]
        processes.append(_spawn(argv, env | {"PIPELINE_METRICS_PORT": str(port)}))
        yield targets
    finally:
        stop(processes)


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *argv], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _answers(address: str) -> bool:
    try:
        urllib.request.urlopen(f"http://{address}/metrics", timeout=2).close()
        return True
    except OSError:
        return False


FAMILIES = {
    "pipeline_events_produced", "pipeline_deliveries_acknowledged", "pipeline_deliveries_failed",
    "pipeline_delivery_latency_seconds", "pipeline_producer_queue_depth",
    "pipeline_events_applied", "pipeline_events_stale", "pipeline_events_dead_lettered",
    "pipeline_consumer_batch_size", "pipeline_apply_seconds", "pipeline_end_to_end_seconds",
    "pipeline_brokers_up", "pipeline_under_replicated_partitions", "pipeline_consumer_lag", "pipeline_service_up",
}  # fmt: skip


def test_console_scrape_shows_the_whole_pipeline(
    kafka_settings: KafkaSettings, schema_url: str, pipeline: dict[str, str], healthy_cluster: None
) -> None:
    targets = ",".join(f"{name}={address}" for name, address in pipeline.items())
    app = create_app(
        ConsoleSettings(metrics_targets=targets), kafka_settings, DatabaseSettings(database_url=schema_url),
        sample_interval_s=1.0,
    )  # fmt: skip
    wait_until(lambda: all(_answers(a) for a in pipeline.values()), 60, "every service's metrics endpoint")
    with TestClient(app) as client:

        def scrape() -> tuple[set[str], Samples]:
            answer = client.get("/metrics")
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
            return parse(answer.text)

        def applied_and_lagging() -> bool:
            _, samples = scrape()
            lags = {dict(ls)["group"] for (n, ls), _ in samples.items() if n == "pipeline_consumer_lag"}
            return total(samples, "pipeline_events_applied_total") > 0 and len(lags) >= 3

        wait_until(applied_and_lagging, 90, "applied events and the lag of three groups")
        names_1, first = scrape()
        time.sleep(4)
        names_2, second = scrape()

    assert names_1 >= FAMILIES and names_2 >= FAMILIES, sorted(FAMILIES - names_1)
    assert total(second, "pipeline_brokers_up") == 3
    assert total(second, "pipeline_under_replicated_partitions") == 0
    assert {dict(ls)["service"] for (n, ls), v in second.items() if n == "pipeline_service_up" and v == 1} == set(
        pipeline
    )
    counters = [k for k in first if k[0].endswith(("_total", "_count", "_bucket"))]
    assert counters
    for key in counters:
        assert second.get(key, 0) >= first[key], f"{key} went down: {first[key]} -> {second.get(key)}"
    assert total(second, "pipeline_events_applied_total") > total(first, "pipeline_events_applied_total")
    assert total(second, "pipeline_events_produced_total", service="producer") > total(
        first, "pipeline_events_produced_total", service="producer"
    )
