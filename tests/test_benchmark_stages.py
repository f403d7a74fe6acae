"""The pieces behind the benchmark report's labels, without a cluster: CPU ledger, acks, summary lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from apps.benchmarks.common import Measurement
from apps.benchmarks.load import DriveResult
from apps.benchmarks.outcome import acknowledged
from apps.benchmarks.proc_cpu import CpuLedger, cpu_seconds
from apps.benchmarks.realtime_stages import RowStages, stage_rows, stages_summary, worst
from apps.benchmarks.sampler import ResourceSampler, supervised
from apps.benchmarks.stages import FLOOR, stage_lines
from apps.benchmarks.summary import kafka_goals


def test_the_ledger_counts_a_busy_process_and_not_an_idle_one() -> None:
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass"]
    )
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    time.sleep(0.2)  # both interpreters started: their start-up CPU is before the window
    try:
        with CpuLedger({"busy": lambda: [busy.pid], "idle": lambda: [idle.pid]}, interval_s=0.1) as ledger:
            busy.wait(10)
            idle.wait(10)
    finally:
        busy.kill(), idle.kill()
    spent = ledger.seconds
    assert spent["busy"] > 0.4, spent  # it spun for about 0.8 s inside the window
    assert spent["idle"] < 0.1, spent
    assert cpu_seconds(busy.pid) is None  # gone: no reading, no error
    rows = {r.metric: r.value for r in ledger.per_event("steady", "m", 1000)}
    assert rows["cpu_us_per_event_busy"] > 400 and "cpu_us_per_event_total" in rows


def test_on_counts_acknowledged_events_not_queued_ones() -> None:
    run = DriveResult(datetime.now(UTC), seconds=1.0, start=100.0, accepted_at=[0.1 * i for i in range(10)])
    half_acked = SimpleNamespace(acked_at=[100.5, 101.0, 102.0, 103.0, 104.0])  # the last ack 4 s after the start
    acked = acknowledged(run, half_acked)
    assert acked.accepted == 5 and acked.seconds == 4.0
    assert acked.rate_between(0, 2) == 1.0  # acks at 0.5 and 1.0 s, not the ten queued in the first second
    assert acknowledged(run, SimpleNamespace()) is run  # OFF: the call returned once committed or buffered


def test_the_summary_reports_ceilings_and_retires_the_batched_goal() -> None:
    rows = [
        Measurement("steady", "on_kafka", "e2e_throughput", 10_000.0),
        Measurement("steady", "on_kafka", "app_throughput", 20_000.0),
        Measurement("steady", "off_batched", "e2e_throughput", 50_000.0),
        Measurement("steady", "on_kafka", "cpu_us_per_event_kafka-1", 20.0),
        Measurement("steady", "on_kafka", "cpu_us_per_event_total", 100.0),
        Measurement("steady", "generator", "cpu_us_per_event_generator", 30.0),
        Measurement("steady", "ceiling_kafka_tools", "producer_perf_throughput", 60_000.0),
    ]
    text = "\n".join(stage_lines(rows))
    assert "| kafka-1 | 20.0 |" in text and "| generator | 30.0 |" in text
    assert "[PASS] sustained e2e ON (9 consumers) >= 0.4x ProducerPerformance: 10,000 / 60,000 = 0.17x" not in text
    assert "[MISS] sustained e2e ON (9 consumers) >= 0.4x ProducerPerformance" in text
    goals = "\n".join(kafka_goals(rows))
    assert "[info] ON e2e / OFF batched e2e" in goals and "0.20x" in goals
    assert "e2e throughput >= OFF batched" not in goals
    assert "[warn]" not in text  # the anchor's record count: the ceiling decides


def test_a_short_ceiling_decides_no_goal() -> None:
    """ProducerPerformance over fewer records than the anchor reads low: no PASS against it."""
    rows = [
        Measurement("steady", "on_kafka", "e2e_throughput", 30_000.0),
        Measurement("steady", "ceiling_kafka_tools", "producer_perf_throughput", 60_000.0),
    ]
    assert "[PASS] sustained e2e ON (9 consumers) >= 0.4x" in "\n".join(stage_lines(rows))
    text = "\n".join(stage_lines(rows, ceiling_records=50_000))
    assert "[info] sustained e2e ON (9 consumers) >= 0.4x ProducerPerformance: 30,000 / 60,000 = 0.50x" in text
    assert "[warn] the Kafka ceilings ran 50,000 records, fewer than the anchor's 300,000" in text


def test_fewer_consumers_than_production_decide_no_goal() -> None:
    """Three consumer processes do less of the work nine do: the goal is called for the production layout."""
    rows = [
        Measurement("steady", "on_kafka", "e2e_throughput", 30_000.0),
        Measurement("steady", "ceiling_kafka_tools", "producer_perf_throughput", 60_000.0),
    ]
    text = "\n".join(stage_lines(rows, consumers=3))
    assert "[info] sustained e2e ON (3 consumers) >= 0.4x ProducerPerformance: 30,000 / 60,000 = 0.50x" in text
    assert "[warn] ON ran 3 consumers, not production's 9" in text and "[PASS]" not in text


def test_the_floor_adds_the_bare_steps_and_bounds_the_rate() -> None:
    """Eight bare steps of 10 us each: 80 us per event, so 2 cores allow 25,000 events/s = 0.25x of 100,000."""
    rows = [Measurement("steady", "ceiling_kafka_tools", "producer_perf_throughput", 100_000.0)]
    rows += [
        Measurement("steady", "ceiling_kafka_tools" if "perf" in metric else "ceiling_floor", metric, 10.0)
        for metric, _ in FLOOR
    ]
    text = "\n".join(stage_lines(rows, cores=2))
    assert "serialize 10.0 + bare producer 10.0 + brokers, produce and replicate 10.0" in text
    assert "= 80.0 us; 2 cores allow at most 25,000 events/s at that cost = 0.25x ProducerPerformance" in text
    assert "[info] floor: not measured (COPY in PostgreSQL: " in "\n".join(stage_lines(rows[:-1], cores=2))
    unread = [*rows[:-1], Measurement("steady", "ceiling_floor", "copy_postgres_us", float("nan"))]  # not ours
    assert "[info] floor: not measured (COPY in PostgreSQL: " in "\n".join(stage_lines(unread, cores=2))


def test_realtime_stages_split_the_tail_into_before_and_inside_the_transaction() -> None:
    fast = [RowStages("product", 0.0, 0.030, 0.020) for _ in range(99)]
    slow = RowStages("order", 0.0, 0.200, 0.150)  # 150 ms before its transaction, 50 ms in it
    rows = {(r.mode, r.metric): r.value for r in stage_rows([*fast, slow])}
    assert worst([*fast, slow]) == [slow]
    assert rows[("worst_1pct", "to_txn_mean")] == pytest.approx(150)
    assert rows[("worst_1pct", "in_txn_mean")] == pytest.approx(50)
    assert rows[("product", "in_txn_p50")] == pytest.approx(10) and rows[("order", "rows")] == 1
    assert "worst 1 % of rows (mean): e2e 200 ms" in stages_summary(stage_rows([*fast, slow]))


def test_a_relisting_interval_reuses_the_pid_lists() -> None:
    calls = []

    def source() -> list[int]:
        calls.append(1)
        return [os.getpid()]

    with ResourceSampler({"me": source}, interval_s=0.05, relist_s=60) as sampler:
        time.sleep(0.3)
    assert len(calls) == 1 and len(sampler.usage["me"].cpu) >= 3  # sampled often, listed once
    with ResourceSampler({"me": source}, interval_s=0.05) as sampler:
        time.sleep(0.2)
    assert len(calls) >= 4  # the default lists at every reading


def test_supervised_sources_share_one_listing_and_find_the_children() -> None:
    asked = []
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:

        def info() -> list[dict]:
            asked.append(1)
            return [{"name": "parent", "pid": os.getpid()}, {"name": "stopped", "pid": 0}]

        runtime = SimpleNamespace(supervisor=SimpleNamespace(info=info))
        sources = [supervised(runtime, "parent"), supervised(runtime, "par.*"), supervised(runtime, "stopped")]
        found = [source() for source in sources]
        assert child.pid in found[0] and os.getpid() in found[0]  # the program and its descendants
        assert found[1] == found[0] and found[2] == []
        assert len(asked) == 1  # one snapshot served every source read in the same moment
    finally:
        child.kill()
        child.wait()
