"""The short Markdown summary printed at the end of a run, with the issue's goals checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from apps.benchmarks.charts import lookup
from apps.benchmarks.common import Measurement, fmt
from apps.benchmarks.stages import ANCHOR_RECORDS, GOAL_CONSUMERS, MODES, WARM_UP, stage_lines

KAFKA_COLUMNS = (
    ("app_throughput", "app events/s (ON: acked)", ""),
    ("app_latency_p99", "app p99", "ms"),
    ("e2e_throughput", "e2e events/s", ""),
    ("e2e_latency_p50", "e2e p50", "ms"),
    ("e2e_latency_p99", "e2e p99", "ms"),
    ("errors", "errors", ""),
    ("lost_events", "lost", ""),
    ("verify_ok", "verify", ""),
)


def table(rows: Sequence[Measurement], columns: Sequence[tuple[str, str, str]]) -> list[str]:
    """One Markdown row per scenario x mode."""
    values = lookup(rows)
    pairs = list(dict.fromkeys((r.scenario, r.mode) for r in rows))
    lines = ["| scenario | mode | " + " | ".join(h for _, h, _ in columns) + " |"]
    lines.append("|---|---|" + "---:|" * len(columns))
    for scenario, mode in pairs:
        cells = []
        for metric, _, unit in columns:
            value = values.get((scenario, mode, metric))
            cells.append(
                "" if value is None else ("ok" if value else "FAIL") if metric == "verify_ok" else fmt(value, unit)
            )
        lines.append(f"| {scenario} | {mode} | " + " | ".join(cells) + " |")
    return lines


def goal(label: str, passed: bool | None, detail: str) -> str:
    mark = "n/a " if passed is None else "PASS" if passed else "MISS"
    return f"- [{mark}] {label}: {detail}"


def kafka_goals(rows: Sequence[Measurement]) -> list[str]:
    """The issue's goals for ``make benchmark-kafka``."""
    v = lookup(rows)
    nan = float("nan")
    on_app, single_app = (
        v.get(("steady", "on_kafka", "app_throughput"), nan),
        v.get(("steady", "off_single", "app_throughput"), nan),
    )
    on_p99, single_p99 = (
        v.get(("steady", "on_kafka", "app_latency_p99"), nan),
        v.get(("steady", "off_single", "app_latency_p99"), nan),
    )
    on_e2e, batched_e2e = (
        v.get(("steady", "on_kafka", "e2e_throughput"), nan),
        v.get(("steady", "off_batched", "e2e_throughput"), nan),
    )
    ratio = on_app / single_app if single_app else nan
    lines = [
        goal(
            "ON acknowledged events/s >= 20x OFF single-row (steady)",
            ratio >= 20 if ratio == ratio else None,
            f"{fmt(on_app)} vs {fmt(single_app)} events/s = {fmt(ratio)}x",
        ),
        goal(
            "ON app p99 lower than OFF single-row (steady)",
            on_p99 < single_p99 if on_p99 == on_p99 and single_p99 == single_p99 else None,
            f"{fmt(on_p99, 'ms')} vs {fmt(single_p99, 'ms')}",
        ),
        f"- [info] ON e2e / OFF batched e2e (steady, no goal: ON does all of OFF batched's work plus"
        f" Kafka's, on the same cores; Kafka buys the outage and burst lines below):"
        f" {fmt(on_e2e)} / {fmt(batched_e2e)} events/s = {fmt(on_e2e / batched_e2e if batched_e2e else nan)}x",
    ]
    if ("steady", WARM_UP, "app_throughput") in v:
        lines.append(
            f"- [info] warm-up before the scenarios (steady ON, not counted):"
            f" {fmt(v[('steady', WARM_UP, 'app_throughput')])} acknowledged events/s,"
            f" brokers {fmt(sum(v.get(('steady', WARM_UP, f'cpu_us_per_event_kafka-{n}'), 0) for n in (1, 2, 3)))}"
            f" us CPU per event (the counted run: "
            f"{fmt(sum(v.get(('steady', 'on_kafka', f'cpu_us_per_event_kafka-{n}'), 0) for n in (1, 2, 3)))})"
        )
    if ("outage", "on_kafka", "outage_ratio") in v:
        lost = v[("outage", "on_kafka", "lost_events")] + v[("outage", "on_kafka", "rows_mismatched")]
        kept = v[("outage", "on_kafka", "outage_ratio")]
        single_lost = v.get(("outage", "off_single", "lost_events"), nan)
        lines += [
            goal(
                "outage: zero events lost ON",
                lost == 0 and v.get(("outage", "on_kafka", "verify_ok")) == 1,
                f"lost {fmt(lost)}, verify {'ok' if v.get(('outage', 'on_kafka', 'verify_ok')) else 'FAILED'}"
                f" (OFF single-row lost {fmt(single_lost)})",
            ),
            goal(
                "outage: ON acknowledged events/s during the outage within 10% of before it, same offered load",
                kept >= 0.9,
                f"during/before = {kept:.1%} at {fmt(v.get(('outage', 'on_kafka', 'offered_rate'), nan))} events/s"
                f" offered (OFF single-row: {v.get(('outage', 'off_single', 'outage_ratio'), nan):.1%})",
            ),
        ]
    if ("burst", "on_kafka", "app_latency_p99") in v:
        lines.append(
            f"- [info] burst: callers' p99 wait ON {fmt(v[('burst', 'on_kafka', 'app_latency_p99')], 'ms')}"
            f" vs OFF single-row {fmt(v.get(('burst', 'off_single', 'app_latency_p99'), nan), 'ms')}"
        )
    return lines


def kafka_summary(
    rows: Sequence[Measurement],
    machine: Mapping[str, object],
    ceiling_records: int = ANCHOR_RECORDS,
    consumers: int = GOAL_CONSUMERS,
) -> str:
    """Markdown: the table, the goals and the machine.

    ``ceiling_records``: what the Kafka ceilings ran; ``consumers``: the processes ON ran.
    """
    head = [f"## Kafka ON vs OFF ({machine['cpu_count']} CPUs, load {machine['load_avg_1m']} at start)", ""]
    main = table([r for r in rows if r.mode in MODES], KAFKA_COLUMNS)
    stages = stage_lines(rows, ceiling_records, consumers)
    return "\n".join([*head, *main, "", *stages, "", "Goals:", *kafka_goals(rows)]) + "\n"
