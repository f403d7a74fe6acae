"""``verify`` on the command line: a Rich table, and an exit code the Makefile can act on.

Exit codes: 0 everything matches; 1 a mismatch with zero lag (something was lost, duplicated
or left behind); 3 the groups did not catch up within ``--wait`` seconds (nothing is concluded).
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from apps.verify.reconcile import VerifyReport, verify
from common.settings import DatabaseSettings, KafkaSettings, load

EXIT_OK, EXIT_MISMATCH, EXIT_LAGGING = 0, 1, 3


def render(report: VerifyReport) -> Table:
    """One row per topic; mismatching cells in red."""
    table = Table(title="Kafka -> PostgreSQL reconciliation", header_style="bold")
    for name in ("topic", "msgs", "ids", "rows", "missing", "stale", "extra", "invalid", "dlq", "lag", ""):
        table.add_column(name, justify="left" if name in ("topic", "") else "right", no_wrap=True)
    for t in report.topics:
        bad = [_cell(t.missing), _cell(t.stale + t.ahead), _cell(t.extra)]
        dlq = f"[red]{t.dlq_messages}[/]" if t.dlq_messages < t.invalid else str(t.dlq_messages)
        lag = f"[yellow]{t.lag}[/]" if t.lag else "0"
        verdict = "[green]ok[/]" if t.ok else ("[yellow]catching up[/]" if t.lag else "[red]MISMATCH[/]")
        table.add_row(
            t.topic, str(t.messages), str(t.entities), str(t.rows), *bad, str(t.invalid), dlq, lag,
            verdict,
        )  # fmt: skip
    if report.orphans is not None:
        o = report.orphans
        counts = f"[red]{o.missing_user} without user, {o.missing_product} without product[/]"
        note = "[green]none[/]" if o.total == 0 else counts
        table.caption = f"orphan orders: {note}"
    if report.sales is not None:
        s = report.sales
        verdict = "[green]equal to the recomputation[/]" if s.ok else (
            f"[red]{s.mismatched_rows} rows differ: {s.double_counted} orders counted twice, "
            f"{s.missing_counts} missing[/]"
        )  # fmt: skip
        line = f"sales aggregates ({s.products} product-minutes, {s.customers} customers): {verdict}"
        table.caption = f"{table.caption}\n{line}" if table.caption else line
    return table


def _cell(value: int) -> str:
    return f"[red]{value}[/]" if value else "0"


def verify_until_caught_up(
    kafka_settings: KafkaSettings, database_url: str, wait_s: float = 60.0, interval_s: float = 2.0
) -> VerifyReport:
    """Run ``verify`` until it passes or lag is zero, for at most ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        report = verify(kafka_settings, database_url)
        if report.ok or report.caught_up or time.monotonic() >= deadline:
            return report
        time.sleep(interval_s)


def exit_code(report: VerifyReport) -> int:
    """0 ok, 1 mismatch once caught up, 3 still lagging."""
    if report.ok:
        return EXIT_OK
    return EXIT_MISMATCH if report.caught_up else EXIT_LAGGING


def verify_pipeline(kafka_settings: KafkaSettings, database_url: str, wait_s: float = 60.0) -> VerifyReport:
    """What ``manage.py verify`` runs: the production topics, waiting up to ``wait_s`` for lag 0."""
    return verify_until_caught_up(kafka_settings, database_url, wait_s=wait_s)


def print_report(report: VerifyReport, console: Console | None = None) -> None:
    """The table, up to five sample mismatches per topic, and a one-line verdict."""
    console = console or Console()
    console.print(render(report))
    for t in report.topics:
        for sample in t.samples:
            console.print(f"  {t.topic}: {sample}")
    for sample in report.sales.samples if report.sales is not None else []:
        console.print(f"  sales: {sample}")
    verdicts = {EXIT_OK: "[green]verify: ok[/]", EXIT_MISMATCH: "[red]verify: mismatch[/]"}
    console.print(verdicts.get(exit_code(report), "[yellow]verify: consumers still lagging, nothing concluded[/]"))


def main(argv: list[str] | None = None) -> int:
    """``python -m apps.verify [--wait 60]``: print the table, return the exit code."""
    parser = argparse.ArgumentParser(description="Reconcile Kafka topics with PostgreSQL tables.")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for lag to reach zero")
    args = parser.parse_args(argv)
    kafka_settings = load(KafkaSettings)
    database_url = load(DatabaseSettings).url  # type: ignore[attr-defined]
    report = verify_pipeline(kafka_settings, database_url, wait_s=args.wait)  # type: ignore[arg-type]
    print_report(report)
    return exit_code(report)
