"""PNG charts of a comparison run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.axes import Axes  # noqa: E402

from apps.benchmarks.common import REALTIME_P99_GOAL_MS, Measurement  # noqa: E402

COLORS = {"off_single": "#d62728", "off_batched": "#ff7f0e", "on_kafka": "#1f77b4", "off_direct": "#d62728"}


def lookup(rows: Sequence[Measurement]) -> dict[tuple[str, str, str], float]:
    """(scenario, mode, metric) -> value, for numeric rows."""
    return {(r.scenario, r.mode, r.metric): float(r.value) for r in rows if isinstance(r.value, int | float)}


def _bars(ax: Axes, values: dict, scenarios: list[str], modes: list[str], metric: str, title: str, log: bool) -> None:
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        heights = [values.get((s, mode, metric), float("nan")) for s in scenarios]
        positions = [x + i * width for x in range(len(scenarios))]
        ax.bar(positions, heights, width, label=mode, color=COLORS.get(mode))
    ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(scenarios))], scenarios)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)


def _timeline(ax: Axes, timelines: dict, scenario: str, modes: list[str], window: tuple[float, float] | None) -> None:
    for mode in modes:
        counts = timelines.get((scenario, mode))
        if counts:
            ax.step(range(len(counts)), counts, where="post", label=mode, color=COLORS.get(mode))
    if window is not None:
        ax.axvspan(*window, color="grey", alpha=0.2, label="PostgreSQL down")
    ax.set_title(f"{scenario}: accepted events per second", fontsize=10)
    ax.set_xlabel("s")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a scenario that did not run has no line: no empty legend
        ax.legend(fontsize=7)


def kafka_chart(rows: Sequence[Measurement], timelines: dict[tuple[str, str], list[int]], path: Path) -> Path:
    """Six panels: app throughput and p99, end-to-end throughput and p99, burst and outage timelines."""
    values = lookup(rows)
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    modes = list(dict.fromkeys(r.mode for r in rows))
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    _bars(axes[0][0], values, scenarios, modes, "app_throughput", "application throughput (events/s, log)", True)
    _bars(axes[0][1], values, scenarios, modes, "app_latency_p99", "application latency p99 (ms, log)", True)
    _bars(axes[1][0], values, scenarios, modes, "e2e_throughput", "end-to-end throughput (events/s)", False)
    _bars(axes[1][1], values, scenarios, modes, "e2e_latency_p99", "end-to-end latency p99 (ms, log)", True)
    axes[0][0].legend(fontsize=8)
    _timeline(axes[0][2], timelines, "burst", modes, None)
    window = None
    if ("outage", modes[0], "outage_start") in values:
        window = (values[("outage", modes[0], "outage_start")], values[("outage", modes[0], "outage_end")])
    _timeline(axes[1][2], timelines, "outage", modes, window)
    fig.suptitle("Kafka ON vs OFF: same events, same machine", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def realtime_chart(latencies: dict[str, list[float]], lag: dict[str, list[tuple[float, int]]], path: Path) -> Path:
    """Three panels: e2e latency CDF per mode, consumer lag over time per group, events per second."""
    fig, (cdf, lags) = plt.subplots(1, 2, figsize=(14, 5))
    for mode, values in latencies.items():
        ordered = sorted(v * 1000 for v in values)
        if ordered:
            cdf.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=mode, color=COLORS.get(mode))
    goal = REALTIME_P99_GOAL_MS
    cdf.axvline(goal, color="grey", linestyle="--", linewidth=1, label=f"{goal} ms goal")
    cdf.set_xscale("log")
    cdf.set_title("end-to-end latency, cumulative share of events (ms, log)", fontsize=10)
    cdf.grid(alpha=0.3)
    cdf.legend(fontsize=8)
    for group, points in lag.items():
        lags.plot([t for t, _ in points], [n for _, n in points], label=group)
    lags.set_title("consumer lag over time (messages not yet committed)", fontsize=10)
    lags.set_xlabel("s")
    lags.grid(alpha=0.3)
    lags.legend(fontsize=8)
    fig.suptitle("Realtime rates: Kafka ON vs OFF", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
