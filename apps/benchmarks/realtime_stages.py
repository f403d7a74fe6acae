"""Where an ON event's end-to-end time goes: before its transaction began, and inside it.

Every entity row keeps ``produced_at`` (stamped at the producer's hand-over), ``applied_at``
(``now()``: when the consumer's transaction began) and its transaction's commit time
(``pg_xact_commit_timestamp(xmin)``, taken after the commit where ``track_commit_timestamp`` is
on, as the local runtime runs). So each row splits into two stages:

- ``to_txn``: produced_at until the transaction began: linger, the produce request, replication,
  the fetch, the decode, and any wait of the consumer's loop;
- ``in_txn``: the transaction itself: version check, upsert, aggregates, offsets, the commit's fsync.

The stages are reported per entity and for the worst 1 % of rows (the p99's own events), so the
tail says which stage it comes from. Rows are the latest version of each entity produced after
``since`` (a version superseded in the table is not here; the commit log times those).
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import text

from apps.benchmarks.common import Measurement, fmt, percentiles
from common.entities import ENTITIES
from database.database import make_engine

QUERY = (
    "SELECT extract(epoch FROM produced_at), extract(epoch FROM pg_xact_commit_timestamp(xmin) - produced_at),"
    " extract(epoch FROM applied_at - produced_at) FROM {table} WHERE produced_at >= :since AND produced_at < :until"
)


class RowStages(NamedTuple):
    """One row: its entity, ``produced_at`` (epoch), end to end and the part before its transaction began (s)."""

    entity: str
    produced: float
    e2e: float
    to_txn: float

    @property
    def in_txn(self) -> float:
        return self.e2e - self.to_txn


def row_stages(url: str, since: datetime, until: datetime) -> list[RowStages]:
    """Each row produced in [``since``, ``until``); empty where commit timestamps are not tracked."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SHOW track_commit_timestamp")).scalar_one() != "on":
                return []
            window = {"since": since, "until": until}
            return [
                RowStages(e.name, float(produced), float(e2e), float(to_txn))
                for e in ENTITIES
                for produced, e2e, to_txn in conn.execute(text(QUERY.format(table=e.table)), window)
            ]
    finally:
        engine.dispose()


def write_events(path: Path, rows: Sequence[RowStages], arrivals: Iterable[tuple]) -> Path:
    """Every event's times, for a closer look at a slow burst: applied rows and the probe's arrivals."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["kind", "entity_or_topic", "partition", "offset", "produced_epoch", "e2e_ms", "to_txn_ms"])
        out.writerows(("applied", r.entity, "", "", f"{r.produced:.6f}", r.e2e * 1e3, r.to_txn * 1e3) for r in rows)
        out.writerows(
            ("fetched", t, p, o, f"{produced:.6f}", (arrived - produced) * 1e3, "")
            for t, p, o, produced, arrived in arrivals
        )
    return path


def worst(rows: Sequence[RowStages], share: float = 0.01) -> list[RowStages]:
    """The slowest ``share`` of rows end to end (at least one): the events the p99 is made of."""
    return sorted(rows, key=lambda r: r.e2e)[-max(1, round(len(rows) * share)) :]


def stage_rows(rows: Sequence[RowStages]) -> list[Measurement]:
    """p50/p99 of each stage, per entity and all together, and the stages of the worst 1 %."""
    out: list[Measurement] = []
    groups = {"all": list(rows)} | {e.name: [r for r in rows if r.entity == e.name] for e in ENTITIES}
    for name, group in groups.items():
        if not group:
            continue
        out.append(Measurement("realtime_stages", name, "rows", len(group), "rows"))
        for stage in ("e2e", "to_txn", "in_txn"):
            cuts = percentiles([getattr(r, stage) for r in group], (50, 99))
            out += [Measurement("realtime_stages", name, f"{stage}_p{c}", v * 1000, "ms") for c, v in cuts.items()]
    if rows:
        tail = worst(rows)
        for stage in ("e2e", "to_txn", "in_txn"):
            value = statistics.fmean(getattr(r, stage) for r in tail) * 1000
            out.append(Measurement("realtime_stages", "worst_1pct", f"{stage}_mean", value, "ms"))
    return out


def stages_summary(rows: Sequence[Measurement]) -> str:
    """Markdown table of ``stage_rows``: where the time goes, per entity and in the tail."""
    v = {(r.mode, r.metric): float(r.value) for r in rows if r.scenario == "realtime_stages"}
    names = [n for n in ("all", *(e.name for e in ENTITIES)) if (n, "rows") in v]
    if not names:
        return ""
    lines = [
        "| rows of | n | e2e p50 | e2e p99 | to txn p50 | to txn p99 | in txn p50 | in txn p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        cells = [fmt(v[(name, f"{s}_p{c}")], "ms") for s in ("e2e", "to_txn", "in_txn") for c in (50, 99)]
        lines.append(f"| {name} | {int(v[(name, 'rows')])} | " + " | ".join(cells) + " |")
    tail = [fmt(v[("worst_1pct", f"{s}_mean")], "ms") for s in ("e2e", "to_txn", "in_txn")]
    lines.append(f"\n- worst 1 % of rows (mean): e2e {tail[0]} = before the transaction {tail[1]} + in it {tail[2]}")
    return "\n".join(lines) + "\n"
