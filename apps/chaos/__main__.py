"""``python -m apps.chaos SCENARIO [--rate 200 --duration 60 --fault-s 30]`` (``make chaos``).

Runs against the local runtime described by the settings (``make up`` first; the consumers are
started if they are not running, and stopped again afterwards). ``all`` runs every scenario in
turn. Prints the chaos table (``--markdown`` for GUIDE/FAILURE_BEHAVIOUR.md); exits 0 when every
scenario lost nothing, duplicated nothing, dead-lettered exactly the injected poison, delivered
every event of its load and passed ``verify``; 1 when one did not, 2 when the runtime is not usable.
Recovery is given from the fault's end and from its start.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rich.console import Console
from rich.table import Table

from apps.chaos.runner import Chaos, ChaosResult, run_scenario
from apps.chaos.scenarios import SCENARIOS
from apps.runtime.errors import RuntimeProblem
from apps.runtime.local import LocalRuntime
from common.settings import DatabaseSettings, KafkaSettings, RuntimeSettings, SettingsError, load

COLUMNS = ("scenario", "acknowledged", "rows applied", "lost", "duplicated", "dead-lettered", "injected",
           "recovery s (end/start)", "drain s", "max lag", "verify", "result")  # fmt: skip


def cells(r: ChaosResult) -> list[str]:
    """One table row as text."""
    c = r.counts
    recovery = "-" if r.recovery_s is None else f"{r.recovery_s:.1f}"
    if r.recovery_from_start_s is not None:
        recovery += f" / {r.recovery_from_start_s:.1f}"
    verify = {None: "-", True: "ok", False: "mismatch"}[r.verify_ok]
    counts = [c.acknowledged, c.applied, c.lost, c.duplicated, c.dead_lettered, c.injected]
    return [
        r.scenario,
        *map(str, counts),
        recovery,
        f"{r.drain_s:.1f}",
        str(r.max_lag),
        verify,
        "pass" if r.ok else "FAIL" if r.delivered else "FAIL (load undelivered)",
    ]


def render(results: list[ChaosResult]) -> Table:
    table = Table(title="chaos", header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("scenario", "result") else "right")
    for result in results:
        table.add_row(*cells(result))
    return table


def markdown(results: list[ChaosResult]) -> str:
    """The same table as GitHub Markdown."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Break one part of the pipeline under load and count the damage.")
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the load")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--fault-s", type=float, default=None, help="how long the fault lasts (default 30, db 20)")
    parser.add_argument("--no-verify", action="store_true", help="skip the full verify after each scenario")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)
    logging.getLogger("librdkafka").setLevel(logging.CRITICAL)  # a dead broker is the point, not news
    console = Console()
    try:
        if args.rate <= 0 or args.duration <= 0:
            raise SettingsError("invalid option --rate/--duration: must be greater than 0")
        runtime = LocalRuntime(load(RuntimeSettings), load(DatabaseSettings))  # type: ignore[arg-type]
        if not runtime.supervisor.is_running():
            raise RuntimeProblem("the local runtime is not running: make up (chaos needs the supervised services)")
        for key, value in runtime.child_env().items():
            os.environ.setdefault(key, value)
        kafka = load(KafkaSettings)
        names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
        results = []
        for name in names:
            fault_s = args.fault_s if args.fault_s is not None else (20.0 if name.startswith("db") else 30.0)
            chaos = Chaos(runtime, kafka, runtime.database_url, args.rate, args.duration, fault_s,
                          verify=not args.no_verify)  # type: ignore[arg-type]  # fmt: skip
            console.print(f"[bold]{name}[/]: {SCENARIOS[name].summary} (rate {args.rate:g}/s, {args.duration:g}s)")
            results.append(run_scenario(chaos, SCENARIOS[name]))
            for sample in results[-1].counts.samples:
                console.print(f"  {sample}")
    except (RuntimeProblem, SettingsError) as problem:
        console.print(f"[red]error:[/] {problem}", highlight=False)
        return 2
    console.print(render(results))
    if args.markdown:
        print(markdown(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
