"""``manage.py status``: services, brokers, topics, consumer lag, table rows and dead letters.

One dictionary serves both outputs: a Rich table for people and ``--json`` for machines (the
end-to-end test waits on it). Each section fails on its own: a dead broker or a stopped
PostgreSQL shows as an ``error`` entry, not a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from apps.console.kafka_admin import KafkaAdmin
from apps.console.table_reader import TableReader
from apps.console.topic_reader import TopicReader
from apps.runtime.interface import Runtime
from common.entities import ENTITIES
from common.settings import KafkaSettings
from kafka.admin import inspect
from kafka.offsets import partition_offsets
from kafka.topics import CONSUMER_GROUPS, DLQ_TOPICS, ENTITY_TOPICS


def _section(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable entry
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def _services(runtime: Runtime | None) -> list[dict]:
    if runtime is None:
        return []
    return [
        {"name": r.name, "state": r.state, "pid": r.pid, "detail": r.detail, "metrics": r.metrics}
        for r in runtime.services()
    ]


def _topics(settings: KafkaSettings) -> dict:
    rows = TopicReader(KafkaAdmin(settings, timeout_s=5)).partitions([s.name for s in ENTITY_TOPICS + DLQ_TOPICS])
    return {
        name: {"end_offsets": [p["end_offset"] for p in parts], "messages": sum(p["messages"] or 0 for p in parts)}
        for name, parts in rows.items()
    }


def _lag(settings: KafkaSettings) -> dict:
    report = {}
    with ThreadPoolExecutor(len(CONSUMER_GROUPS) + 1) as pool:  # each call waits on the network, not the CPU
        described_later = pool.submit(inspect.groups_members, settings, list(CONSUMER_GROUPS.values()))
        offsets_later = {
            topic: pool.submit(partition_offsets, settings, topic, group_id=group)
            for topic, group in CONSUMER_GROUPS.items()
        }
        described = described_later.result()  # one child process for all the groups
    for topic, group in CONSUMER_GROUPS.items():
        rows = offsets_later[topic].result()
        members = described[group]
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
    reader = TableReader(database_url, timeout_s=3)
    try:
        return {row["table"]: row["rows"] for row in reader.tables()["data"]}  # rows None: not migrated yet
    finally:
        reader.close()


def collect_status(settings: KafkaSettings, database_url: str, runtime: Runtime | None = None) -> dict:
    """Everything ``status`` shows, as plain data.

    The sections ask different servers and wait on the network, so they run side by side: the
    report takes as long as its slowest section (describing the groups), not the sum of all.
    """
    sections: dict[str, Callable[[], Any]] = {
        "services": lambda: _services(runtime),
        "brokers": lambda: inspect.brokers(settings),
        "topics": lambda: _topics(settings),
        "consumer_groups": lambda: _lag(settings),
        "tables": lambda: _rows(database_url),
    }
    with ThreadPoolExecutor(len(sections)) as pool:
        later = {name: pool.submit(_section, fn) for name, fn in sections.items()}
    report = {name: future.result() for name, future in later.items()}
    topics, lag = report["topics"], report["consumer_groups"]
    report["total_lag"] = None if "error" in lag else sum(g["total_lag"] for g in lag.values())
    report["dead_letters"] = (
        {t.name: topics.get(t.name, {}).get("messages") for t in DLQ_TOPICS} if "error" not in topics else topics
    )
    return report


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
