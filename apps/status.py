"""``manage.py status``: services, brokers, topics, consumer lag, table rows and dead letters.

One dictionary serves both outputs: a Rich table for people and ``--json`` for machines (the
end-to-end test waits on it). Each section fails on its own: a dead broker or a stopped
PostgreSQL shows as an ``error`` entry, not a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from common.entities import ENTITIES
from common.settings import KafkaSettings
from kafka.admin import inspect
from kafka.offsets import partition_offsets
from kafka.topics import CONSUMER_GROUPS, DLQ_TOPICS, ENTITY_TOPICS

TABLES = tuple(e.table for e in ENTITIES)


def _section(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable entry
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def _services(runtime: object) -> list[dict]:
    if type(runtime).__name__ != "LocalRuntime":
        return []
    return [
        {"name": r.name, "state": r.state, "pid": r.pid, "detail": r.detail, "metrics": r.metrics} for r in runtime.ps()
    ]


def _topics(settings: KafkaSettings) -> dict:
    report = {}
    for spec in ENTITY_TOPICS + DLQ_TOPICS:
        parts = partition_offsets(settings, spec.name, timeout_s=5)
        report[spec.name] = {"end_offsets": [p.high for p in parts], "messages": sum(p.messages for p in parts)}
    return report


def _lag(settings: KafkaSettings) -> dict:
    report = {}
    for topic, group in CONSUMER_GROUPS.items():
        rows = partition_offsets(settings, topic, group_id=group)
        members = inspect.group_members(settings, group)
        report[group] = {
            "topic": topic,
            "state": members["state"],
            "members": members["members"],
            "idle": idle_members(members["members"]),
            "partitions": [
                {"partition": r.partition, "committed": r.committed, "end": r.high, "lag": r.lag} for r in rows
            ],
            "total_lag": sum(r.lag for r in rows),
        }
    return report


def idle_members(members: dict[str, list[str]]) -> list[str]:
    """Members holding no partition: more instances than partitions (``PIPELINE_CONSUMER_INSTANCES``)."""
    return sorted(name for name, assigned in members.items() if not assigned)


def _rows(database_url: str) -> dict:
    engine = create_engine(database_url, pool_pre_ping=True, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            existing = set(
                conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
            )
            return {
                name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() if name in existing else None
                for name in TABLES
            }
    finally:
        engine.dispose()


def collect_status(settings: KafkaSettings, database_url: str, runtime: object | None = None) -> dict:
    """Everything ``status`` shows, as plain data."""
    topics = _section(lambda: _topics(settings))
    lag = _section(lambda: _lag(settings))
    dead_letters = (
        {t.name: topics.get(t.name, {}).get("messages") for t in DLQ_TOPICS} if "error" not in topics else topics
    )
    return {
        "services": _section(lambda: _services(runtime)),
        "brokers": _section(lambda: inspect.brokers(settings)),
        "topics": topics,
        "consumer_groups": lag,
        "total_lag": None if "error" in lag else sum(g["total_lag"] for g in lag.values()),
        "tables": _section(lambda: _rows(database_url)),
        "dead_letters": dead_letters,
    }


def print_status(report: dict, console: Console) -> None:
    """The same report as a table that fits 80 columns (end offsets go on their own line below it)."""
    brokers = report["brokers"]
    if isinstance(brokers, list):
        brokers = ", ".join(f"{b['id']}@{b['host']}:{b['port']}" for b in brokers)
    console.print(f"brokers: {brokers}")
    table = Table(title="pipeline status", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for header in ("topic", "messages", "group", "lag", "rows", "DLQ"):
        right = header not in ("topic", "group")
        table.add_column(header, justify="right" if right else "left", overflow="fold", no_wrap=header == "group")
    groups = report["consumer_groups"]
    ends = []
    for entity in ENTITIES:
        topic = report["topics"].get(entity.topic, {}) if "error" not in report["topics"] else {}
        group = entity.group
        lag = groups.get(group, {}).get("total_lag", "?") if "error" not in groups else "?"
        rows = report["tables"].get(entity.table, "?") if "error" not in report["tables"] else "?"
        dlq = report["dead_letters"].get(entity.dlq, "?") if "error" not in report["dead_letters"] else "?"
        table.add_row(entity.topic, str(topic.get("messages", "?")), group, str(lag), str(rows), str(dlq))
        ends.append(f"{entity.topic} {' '.join(map(str, topic.get('end_offsets', ['?'])))}")
    console.print(table)
    console.print("end offsets: " + " | ".join(ends))
    if "error" not in groups:
        for group, entry in groups.items():
            if entry.get("idle"):
                owners = len(entry["members"]) - len(entry["idle"])
                console.print(
                    f"[yellow]{group}: {len(entry['idle'])} idle member(s), no partition left for them "
                    f"({owners} own all {len(entry['partitions'])} partitions): {', '.join(entry['idle'])}[/]"
                )
    for key in ("topics", "consumer_groups", "tables", "brokers"):
        if isinstance(report[key], dict) and "error" in report[key]:
            console.print(f"[red]{key}: {report[key]['error']}[/]")
