"""What every comparison benchmark shares: machine info, percentiles, the long-format CSV, paths.

A report row is one measurement: ``scenario x mode x metric = value unit``, followed by the
machine and settings it was taken on, repeated on every row so a single row still says where
it comes from when CSVs from several machines are concatenated.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import confluent_kafka
import psycopg
import sqlalchemy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text

from common.settings import PROJECT_ROOT, DatabaseSettings, KafkaSettings, RuntimeSettings, load
from database.database import make_engine

MACHINE_COLUMNS = (
    "cpu_count",
    "load_avg_1m",
    "platform",
    "python",
    "confluent_kafka",
    "librdkafka",
    "sqlalchemy",
    "psycopg",
    "postgres",
    "kafka_brokers",
    "settings",
)
COLUMNS = ("run_id", "benchmark", "scenario", "mode", "metric", "value", "unit", *MACHINE_COLUMNS)

REALTIME_P99_GOAL_MS = 50  # issue 15: end-to-end p99 at the seed's realtime rates, every service running


@dataclass(frozen=True)
class Measurement:
    """One row of a report before the machine columns are added."""

    scenario: str
    mode: str
    metric: str
    value: float | int | str
    unit: str = ""


def percentiles(values: Sequence[float], cuts: Iterable[int] = (50, 95, 99)) -> dict[int, float]:
    """p50/p95/p99 (inclusive method); NaN for no values, the value itself for one."""
    if not values:
        return {cut: float("nan") for cut in cuts}
    if len(values) == 1:
        return {cut: float(values[0]) for cut in cuts}
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    return {cut: quantiles[cut - 1] for cut in cuts}


def machine_info(kafka: KafkaSettings, database_url: str, options: Mapping[str, object]) -> dict[str, object]:
    """Where the figures come from: cores, load, versions, and the settings of this run."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    knobs = {
        "linger_ms": kafka.linger_ms,
        "batch_size": kafka.batch_size,
        "bulk_linger_ms": kafka.bulk_linger_ms,  # steady ON and the Kafka ceilings (``KafkaSettings.bulk``)
        "bulk_batch_size": kafka.bulk_batch_size,
        "compression": kafka.compression_type,
        "consumer_batch_size": kafka.consumer_batch_size,
        "consumer_batch_timeout_s": kafka.consumer_batch_timeout_s,
        "consumer_fetch_min_bytes": kafka.consumer_fetch_min_bytes,
        "consumer_fetch_wait_max_ms": kafka.consumer_fetch_wait_max_ms,
    }
    return {
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
        "postgres": server,
        "kafka_brokers": len(kafka.bootstrap_servers.split(",")),
        "settings": json.dumps(knobs | dict(options), default=str, sort_keys=True),
    }


def report_path(name: str, out_dir: Path | None = None, suffix: str = "csv") -> Path:
    """``reports/benchmark_<name>_<UTC timestamp>.<suffix>`` (the folder is created)."""
    folder = out_dir or PROJECT_ROOT / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"benchmark_{name}_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{suffix}"


def write_csv(path: Path, benchmark: str, measurements: Iterable[Measurement], machine: Mapping[str, object]) -> Path:
    """One row per measurement with the machine columns appended; returns ``path``."""
    run_id = path.stem.rsplit("_", 1)[-1]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for m in measurements:
            value = round(m.value, 4) if isinstance(m.value, float) else m.value
            row = {"run_id": run_id, "benchmark": benchmark, "scenario": m.scenario, "mode": m.mode}
            writer.writerow(row | {"metric": m.metric, "value": value, "unit": m.unit} | dict(machine))
    return path


def fmt(value: float, unit: str = "") -> str:
    """Human figures for the Markdown summary: 12,345 events/s, 3.2 ms, n/a."""
    if value != value:  # NaN
        return "n/a"
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{number} {unit}".strip()


@dataclass
class BenchProgress:
    """A Rich progress bar over events handed to the application, with the current step's name."""

    progress: Progress
    task: int

    def describe(self, step: str) -> None:
        self.progress.update(self.task, description=step)  # type: ignore[arg-type]

    def advance(self, events: int) -> None:
        self.progress.advance(self.task, events)  # type: ignore[arg-type]


@contextmanager
def bench_progress(console: Console, total: int) -> Iterator[BenchProgress]:
    """A progress bar: ``p.describe("steady / on_kafka")``, then ``p.advance(500)`` as events go."""
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        yield BenchProgress(progress, progress.add_task("starting", total=total))


def local_runtime(database: DatabaseSettings) -> object | None:
    """The local runtime whose supervisor runs now (for outages and PIDs); None under Docker."""
    from apps.runtime.detect import choose_runtime
    from apps.runtime.local import LocalRuntime

    settings = load(RuntimeSettings)
    if choose_runtime(settings) != "local":  # type: ignore[arg-type]
        return None
    runtime = LocalRuntime(settings, database)  # type: ignore[arg-type]
    return runtime if runtime.supervisor.is_running() else None
