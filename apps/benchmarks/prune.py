"""Remove the scratch topics that earlier benchmark runs left on the cluster (``manage.py benchmark prune``).

Only names the benchmarks generate are matched (``scratch.SCRATCH_TOPIC``). Run it when no
benchmark is running: a running one's topics match too.
"""

from __future__ import annotations

import typer
from rich.console import Console

from apps.benchmarks.scratch import leftover_topics
from common.settings import KafkaSettings, load
from kafka import clients
from kafka.admin.setup_topics import delete_topics

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(dry_run: bool = typer.Option(False, help="list them, delete nothing")) -> None:
    """List the leftover scratch topics and delete them."""
    console = Console()
    admin = clients.admin(load(KafkaSettings), "bench-prune")
    left = leftover_topics(admin)
    partitions = sum(left.values())
    console.print(f"{len(left)} scratch topic(s) left by earlier benchmark runs, {partitions} partition(s)")
    if dry_run or not left:
        return
    failed = delete_topics(admin, sorted(left))
    console.print(f"deleted {len(left) - len(failed)}" + (f"; not deleted: {', '.join(failed)}" if failed else ""))
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
