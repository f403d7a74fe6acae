"""``verify`` on the command line: a table that fits 80 columns, ``--json``, and an exit code.

Exit codes: 0 everything matches; 1 a mismatch (something lost, duplicated, changed or left
behind); 3 the consumer groups did not commit past the snapshot within ``--wait`` seconds
(nothing is concluded); 2 the database was not migrated (one line on stderr).
"""

from __future__ import annotations

import argparse
import json

from rich import box
from rich.console import Console
from rich.table import Table

from apps.verify.reconcile import EXIT_LAGGING, EXIT_MISMATCH, EXIT_OK, StateMissing, TopicReport, VerifyReport, verify
from common.settings import DatabaseSettings, KafkaSettings, load

KINDS = ("missing", "stale", "tampered", "extra", "ahead", "dlq missing", "dlq twice", "dlq unmatched", "sink rejects")


def _result(t: TopicReport) -> str:
    if t.lag:
        return "[yellow]lagging[/]"
    found = ", ".join(f"{t.counts[k]:,} {k}" for k in KINDS if t.counts.get(k))
    if t.ok:
        return "[green]ok[/]" + (f" ({found})" if found else "")
    return f"[red]MISMATCH: {found}[/]"


def render(report: VerifyReport) -> Table:
    """One row per topic; findings as words in the last column, which wraps (never cut to "…")."""
    table = Table(title="Kafka -> PostgreSQL at the snapshot", box=box.SIMPLE_HEAD, header_style="bold")
    for name in ("topic", "rows", "new msgs", "dead letters", "lag", "result"):
        numeric = name not in ("topic", "result")
        table.add_column(name, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
    for t in report.topics:
        lag = f"[yellow]{t.lag:,}[/]" if t.lag else "0"
        counts = (t.counts.get("rows", 0), t.read, t.counts.get("dead letters", 0))
        table.add_row(t.topic, *(f"{n:,}" for n in counts), lag, _result(t))
    return table


def print_report(report: VerifyReport, console: Console | None = None) -> None:
    """The table, notes, up to five samples per topic, and a one-line verdict."""
    console = console or Console()
    console.print(render(report))
    if report.orphans is not None:
        o = report.orphans
        found = f"[red]{o.missing_user} without user, {o.missing_product} without product[/]"
        console.print(f"orphan orders: {'[green]none[/]' if not o.total else found}")
    for t in report.topics:
        if t.expired:
            console.print(
                f"  {t.topic}: {t.expired:,} messages expired before verify read them (state covers earlier runs)"
            )
        for sample in t.samples:
            console.print(f"  {t.topic}: {sample}", highlight=False)
    for name, findings in report.plugins.items():
        console.print(f"  {name}: {'[green]ok[/]' if findings.ok else '[red]MISMATCH[/]'} {findings.counts}")
        for sample in findings.samples:
            console.print(f"    {sample}", highlight=False)
    lagging = "[yellow]verify: consumers did not reach the snapshot in time, nothing concluded[/]"
    verdicts = {EXIT_OK: "[green]verify: ok[/]", EXIT_MISMATCH: "[red]verify: mismatch[/]", EXIT_LAGGING: lagging}
    console.print(f"{verdicts[report.exit_code]} (snapshot {report.snapshot_at[:19]}Z, {report.took_s:.1f}s)")


def main(argv: list[str] | None = None, kafka_settings: KafkaSettings | None = None, database_url: str = "") -> int:
    """``python -m apps.verify [--wait 60] [--json]``: print the result, return the exit code.

    ``manage.py verify`` passes its runtime's settings; otherwise they come from ``PIPELINE_*``.
    """
    parser = argparse.ArgumentParser(description="Reconcile Kafka topics with PostgreSQL tables at a snapshot.")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the groups to reach the snapshot")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    args = parser.parse_args(argv)
    kafka_settings = kafka_settings or load(KafkaSettings)  # type: ignore[assignment]
    database_url = database_url or load(DatabaseSettings).url  # type: ignore[attr-defined]
    try:
        report = verify(kafka_settings, database_url, wait_s=args.wait)  # type: ignore[arg-type]
    except StateMissing as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print_report(report)
    return report.exit_code
