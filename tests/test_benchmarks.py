"""The comparison benchmarks in short mode, against the session's real Kafka and PostgreSQL.

No speed is asserted: the tests check that a run produces a complete report (every column,
scenario, mode and metric), a chart that opens, and that every ON scenario reconciles with
``verify`` (including the one where PostgreSQL is stopped in the middle).
"""

from __future__ import annotations

import csv
import time
import uuid
from dataclasses import replace
from pathlib import Path

import matplotlib.image
import pytest
from confluent_kafka.admin import NewTopic

from apps.benchmarks import scratch
from apps.benchmarks.ceilings import _burst_spans
from apps.benchmarks.common import COLUMNS, Measurement, percentiles, write_csv
from apps.benchmarks.fetch_probe import START_TIMEOUT_S, FetchProbe
from apps.benchmarks.kafka_comparison import MODES, SCENARIOS, SHORT, run_comparison
from apps.benchmarks.load import Phase, entity_stream, release_times
from apps.benchmarks.realtime_comparison import run_realtime
from apps.benchmarks.realtime_probes import realtime_summary
from apps.benchmarks.stages import FLOOR
from common.settings import KafkaSettings
from kafka import clients

pytestmark = pytest.mark.slow
COMMON_METRICS = {
    "events",
    "accepted",
    "errors",
    "lost_events",
    "rows_mismatched",
    "app_throughput",
    "app_latency_p50",
    "app_latency_p95",
    "app_latency_p99",
    "e2e_throughput",
    "e2e_latency_p50",
    "e2e_latency_p95",
    "e2e_latency_p99",
    "cpu_app",
    "rss_app",
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def _assert_png(path: Path) -> None:
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100


# --- pure helpers ---------------------------------------------------------------------------------
def test_scratch_names_match_and_nothing_else() -> None:
    made = ["bench-0a1b2c3d-orders", "seedbench-0a1b2c-users-dlq", "rt-0a1b2c3d-products", "ceiling-0a1b2c3d"]
    made += ["sink-bench-0a1b2c3d-p6", f"bench-orders-{time.time_ns()}"]
    assert all(scratch.SCRATCH_TOPIC.fullmatch(name) for name in made)
    theirs = ["orders", "bench-orders", "bench-mark-users", "ceiling-fan", "rt-0a1b2c3d-orders-archive"]
    assert not any(scratch.SCRATCH_TOPIC.fullmatch(name) for name in theirs)


def test_release_times_follow_the_phases() -> None:
    times = release_times([Phase(2, 10), Phase(1, 100)])
    assert len(times) == 120
    assert times[19] == pytest.approx(1.9) and times[20] == pytest.approx(2.0) and times[-1] < 3


def test_percentiles_and_csv(tmp_path: Path) -> None:
    assert percentiles([5.0]) == {50: 5.0, 95: 5.0, 99: 5.0}
    assert percentiles(list(range(101)))[99] == pytest.approx(99)
    path = write_csv(tmp_path / "benchmark_x_1.csv", "x", [Measurement("s", "m", "metric", 1.5, "u")], {"cpu_count": 2})
    assert _rows(path)[0]["value"] == "1.5"


def test_the_stream_is_reproducible() -> None:
    first, second = entity_stream("en_US", 7, 20, 200), entity_stream("en_US", 7, 20, 200)
    assert len(first) == 200 and [e.event_id for e in first] == [e.event_id for e in second]


# --- short runs against the real services ---------------------------------------------------------
def test_kafka_comparison_short(runtime, kafka_settings, database_url, tmp_path: Path) -> None:  # noqa: ANN001
    # the smallest load that still has a calm, a burst and an outage window: no figure is asserted
    sizes = replace(SHORT, events=1_000, calm_s=1, burst_s=2, outage_s=3, margin_s=1, ceiling_records=5_000)
    result = run_comparison(kafka_settings, database_url, runtime, sizes, out_dir=tmp_path)
    rows = _rows(result.csv)
    scenarios = SCENARIOS if getattr(runtime, "supervisor", None) is not None else ("steady", "burst")
    assert {r["scenario"] for r in rows} == set(scenarios)
    for scenario in scenarios:
        for mode in MODES:
            metrics = {r["metric"]: r["value"] for r in rows if r["scenario"] == scenario and r["mode"] == mode}
            assert metrics.keys() >= COMMON_METRICS, (scenario, mode, COMMON_METRICS - metrics.keys())
            if mode == "on_kafka":
                assert metrics["verify_ok"] == "1", f"verify failed after ON {scenario}"
                assert metrics["lost_events"] == "0" and metrics["rows_mismatched"] == "0"
    assert all(r["cpu_count"] and r["postgres"] and r["settings"] for r in rows)
    steady_on = {r["metric"]: r["value"] for r in rows if r["scenario"] == "steady" and r["mode"] == "on_kafka"}
    per_process = {f"cpu_us_per_event_{n}" for n in ("app", "kafka-1", "kafka-2", "kafka-3", "postgres")}
    per_process |= {"cpu_us_per_event_consumer-orders", "cpu_us_per_event_total"}
    assert {"app_queued_throughput", "e2e_clock", *per_process} <= steady_on.keys()
    assert steady_on["e2e_clock"] in ("commit_timestamp", "pre_commit_clock")
    ceilings = {r["metric"] for r in rows if r["mode"].startswith("ceiling_")}
    assert "raw_binary_copy_throughput" in ceilings
    if getattr(runtime, "supervisor", None) is not None:
        assert {"producer_perf_throughput", "producer_perf_broker_cpu_us", "consumer_perf_throughput"} <= ceilings
        assert {metric for metric, _ in FLOOR} <= ceilings  # every step of the floor, so its line is a figure
        assert "[limit] floor, the bare steps" in result.summary
    assert "Ceilings, measured in this run:" in result.summary
    _assert_png(result.chart)
    assert "Goals:" in result.summary


def test_fetch_probe_that_cannot_start_says_so_before_its_timeout() -> None:
    """The probe is a process of its own: one that failed must not leave the benchmark waiting for it."""
    nowhere = KafkaSettings(bootstrap_servers="127.0.0.1:1")  # nothing listens: the metadata request times out
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="fetch probe did not start"), FetchProbe(nowhere, ["orders"], 1.0):
        pass
    assert time.monotonic() - started < START_TIMEOUT_S


def test_realtime_comparison_short(runtime, kafka_settings, database_url, tmp_path: Path) -> None:  # noqa: ANN001
    csv_path, chart, measurements = run_realtime(
        kafka_settings,
        database_url,
        runtime,
        duration_s=12,
        instances=1,
        catalogue=100,
        lag_every_s=1,
        out_dir=tmp_path,
        anchor_bursts=3,
    )
    rows = _rows(csv_path)
    metrics = {(r["mode"], r["metric"]): r["value"] for r in rows}
    for mode in ("off_direct", "on_kafka"):
        assert {(mode, "rows"), (mode, "e2e_latency_p50"), (mode, "e2e_latency_p99")} <= metrics.keys()
    assert metrics[("on_kafka", "verify_ok")] == "1"
    assert float(metrics[("on_kafka_fetched", "rows")]) > 0  # Kafka's share, timed by the fetch probe
    assert float(metrics[("kafka_burst_anchor", "rows")]) == 3  # Kafka alone on the same bursts, one row a burst
    summary = realtime_summary(measurements, {"cpu_count": 2, "load_avg_1m": 0})
    assert "[limit] Kafka alone on the same bursts: p99" in summary  # ON's p99 held against it, in the report
    # where the time goes: before each row's transaction and inside it, and the worst 1 %'s split
    assert {("all", "to_txn_p99"), ("all", "in_txn_p99"), ("worst_1pct", "to_txn_mean")} <= metrics.keys()
    assert csv_path.with_name(csv_path.stem + "_lag.csv").exists()
    with csv_path.with_name(csv_path.stem + "_events.csv").open(newline="") as handle:
        kinds = {row["kind"] for row in csv.DictReader(handle)}
    assert kinds == {"applied", "fetched"}
    _assert_png(chart)


def test_burst_anchor_times_each_complete_burst_from_its_first_send() -> None:
    """Events belong to the burst whose window they were stamped in; a burst missing one is left out."""
    sent = [(100.0, 2), (101.0, 2), (102.0, 1)]
    arrivals = [
        ("t", 0, 0, 100.001, 100.020), ("t", 1, 0, 100.002, 100.031),  # burst 1: last arrival 31 ms after start
        ("t", 0, 1, 101.001, 101.015),  # burst 2: one of its two never arrived
        ("t", 2, 0, 102.003, 102.012),  # burst 3
        ("t", 2, 1, 99.0, 99.5),  # stamped before the first burst: not one of them
    ]  # fmt: skip
    assert [round(s, 3) for s in _burst_spans(sent, arrivals)] == [0.031, 0.012]


def test_scratch_topics_leave_nothing_behind(kafka_settings: KafkaSettings) -> None:
    """The topics are gone once the block ends; while it runs, ``leftover_topics`` sees them.

    ``delete_topics`` only queues the request: a dropped client deleted nothing, and benchmarks
    left 1,185 partitions on a developer's cluster (``kafka.admin.setup_topics``).
    """
    admin = clients.admin(kafka_settings, "test-scratch")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with scratch.scratch_topics(kafka_settings, prefix) as topics:
        names = {*topics.values(), *(f"{t}-dlq" for t in topics.values())}
        assert names <= set(scratch.leftover_topics(admin))
    # Asked of the controller at once, no metadata lag: creating them again must validate.
    probe = [NewTopic(name, 1, 1) for name in sorted(names)]
    futures = admin.create_topics(probe, validate_only=True, operation_timeout=10)
    still = [name for name, future in futures.items() if future.exception(timeout=30) is not None]
    assert not still, f"left behind: {still}"
