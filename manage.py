#!/usr/bin/env python3
"""One command line behind the Makefile: ``python manage.py --help``.

Every command works in both runtimes: ``docker`` (deploy/docker-compose.yml) where a Docker
engine answers, ``local`` (processes on 127.0.0.1 under supervisord) everywhere else.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from apps.runtime.envfile import ensure_env_file

ensure_env_file()  # before any settings are read: first run creates .env with a random password

from apps.runtime.detect import choose_runtime  # noqa: E402
from apps.runtime.errors import RuntimeProblem  # noqa: E402
from apps.runtime.interface import Runtime, child_environment, is_local, settings_for  # noqa: E402
from common.settings import (  # noqa: E402
    ConsoleSettings,
    DatabaseSettings,
    GeneratorSettings,
    KafkaSettings,
    RuntimeSettings,
    ScaleSettings,
    SettingsError,
    load,
)

if TYPE_CHECKING:
    from apps.runtime.roles import Role

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
console = Console()
GROUP_ALIASES = {"consumers": "consumers", "producer": "producer", "console": "console"}


def _runtime() -> Runtime:
    """The runtime of this machine (``PIPELINE_RUNTIME`` or detected), built once per command."""
    settings = load(RuntimeSettings)
    if choose_runtime(settings) == "docker":
        from apps.runtime.docker import DockerRuntime

        return DockerRuntime(load(ScaleSettings))
    from apps.runtime.local import LocalRuntime

    return LocalRuntime(
        settings, load(DatabaseSettings), load(ConsoleSettings), load(ScaleSettings), kafka=load(KafkaSettings)
    )


def _role(name: str, topic: str | None = None) -> Role:
    """The secure profile's principal for a command: admin, producer, reader or a consumer group's."""
    from apps.runtime import roles

    if name == "consumer":
        return roles.consumer_role(topic or "")
    return {"admin": roles.ADMIN_ROLE, "producer": roles.PRODUCER_ROLE, "reader": roles.READER_ROLE}[name]


def _kafka_settings(runtime: Runtime, role: Role) -> KafkaSettings:
    """Kafka settings of ``role`` on this runtime (explicit ``PIPELINE_KAFKA_*`` variables win)."""
    return settings_for(KafkaSettings, runtime, role)


def _database_url(runtime: Runtime, role: Role | None = None) -> str:
    if not is_local(runtime):
        return load(DatabaseSettings).url
    return runtime.role_database_url(role) if role is not None else runtime.database_url


@app.command()
def up() -> None:
    """Start Kafka (3 brokers) and PostgreSQL, migrate, create topics."""
    started = time.monotonic()
    runtime = _runtime()
    runtime.up()
    console.print(f"[green]up[/] in {time.monotonic() - started:.1f}s")
    ps()


@app.command()
def down() -> None:
    """Stop every service; no process is left behind."""
    _runtime().down()
    console.print("[green]down[/]: every service stopped")


@app.command()
def clean() -> None:
    """Stop everything and delete all data (Kafka logs, PostgreSQL data, logs)."""
    import shutil

    runtime = _runtime()
    if is_local(runtime):
        runtime.down()
        for sub in ("kafka", "postgres", "supervisor", "logs"):
            shutil.rmtree(runtime.settings.runtime_dir / sub, ignore_errors=True)
    else:
        runtime.down(volumes=True)
    console.print("[green]clean[/]: services stopped, data removed (Kafka jars kept)")


@app.command()
def ps() -> None:
    """Show every service and its state."""
    runtime = _runtime()
    if not is_local(runtime):
        runtime.ps()
        return
    from apps.runtime.external import describe

    console.print(describe(runtime.external_kafka, runtime.external_db), soft_wrap=True)
    rows = runtime.ps()
    if not rows:
        console.print("nothing is running (make up / make start-all)")
        return
    from rich import box

    title = f"local runtime: {runtime.settings.runtime_dir}"
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for header in ("service", "state", "pid", "uptime", "metrics (/metrics)", "detail"):
        table.add_column(header, overflow="fold", no_wrap=header == "service")
    for row in rows:
        color = {"RUNNING": "green", "EXITED": "cyan", "STOPPED": "dim"}.get(row.state, "red")
        uptime = f"{row.uptime_s}s" if row.uptime_s is not None else ""
        table.add_row(row.name, f"[{color}]{row.state}[/]", str(row.pid or ""), uptime, row.metrics, row.detail)
    console.print(table)


@app.command()
def logs(
    services: Annotated[list[str] | None, typer.Argument(help="service names or kafka/consumers/producer")] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow")] = True,
    lines: int = 50,
) -> None:
    """Show (and follow) service logs."""
    runtime = _runtime()
    names = _expand(runtime, services or [])
    if not is_local(runtime):
        runtime.logs(names, follow)
        return
    names = names or [p.name for p in runtime.programs()]
    files = [str(runtime.log_file(n)) for n in names if runtime.log_file(n).exists()]
    if not files:
        raise RuntimeProblem("no logs yet: start the services first (make up)")
    os.execvp("tail", ["tail", "-n", str(lines), *(["-F"] if follow else []), *files])


def _expand(runtime: object, names: list[str]) -> list[str]:
    from apps.runtime import services as svc

    groups = {
        "kafka": list(svc.KAFKA_SERVICES),
        "consumers": [s.name for s in svc.consumer_services(load(ScaleSettings).consumer_instances)],
        "producer": [svc.PRODUCER.name],
    }
    return [member for name in names for member in groups.get(name, [name])]


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic)."""
    from database.migrate import upgrade

    upgrade(_database_url(_runtime()))
    console.print("[green]migrated[/] to head")


@app.command()
def topics() -> None:
    """Create missing topics (and ACLs in the secure profile), grow partitions, report drift."""
    from kafka.admin.setup_topics import configured_topics, ensure_all

    runtime = _runtime()
    table = Table("topic", "action", "drift", "note")
    reports, acls = ensure_all(
        _kafka_settings(runtime, _role("admin")), load(RuntimeSettings).secure, configured_topics()
    )
    for r in reports:
        table.add_row(r.name, r.action, "; ".join(r.drift) or "-", r.note or "-")
    console.print(table)
    if acls is not None:
        console.print(f"ACLs: {len(acls.created)} created, {len(acls.drift)} drift")
        for line in acls.drift:
            console.print(f"  [yellow]drift[/] {line}", highlight=False)
    if any(r.drift for r in reports) or (acls and acls.drift):
        raise typer.Exit(1)


@app.command()
def seed(
    users: Annotated[int | None, typer.Option(help="default PIPELINE_SEED_USERS")] = None,
    products: Annotated[int | None, typer.Option(help="default PIPELINE_SEED_PRODUCTS")] = None,
) -> None:
    """Publish the initial users and products (a one-off task, not a service)."""
    _seed(_runtime(), users, products)


def _seed(runtime: Runtime, users: int | None, products: int | None) -> None:
    generator = load(GeneratorSettings)
    args = ["--users", str(users if users is not None else generator.seed_users)]
    args += ["--products", str(products if products is not None else generator.seed_products)]
    if not is_local(runtime):
        runtime.run_oneshot("apps.pipeline.seed", *args)
        return
    _run_module("apps.pipeline.seed", args, child_environment(runtime, _role("producer")))


def _run_module(module: str, args: list[str], env: dict[str, str]) -> None:
    """Run a project module in a child Python with ``env`` (settings passed in), failing when it fails."""
    import subprocess

    code = subprocess.run([sys.executable, "-m", module, *args], check=False, env=env).returncode
    if code != 0:
        raise typer.Exit(code)


def _group_command(group: str, start: bool) -> None:
    runtime = _runtime()
    (runtime.start_group if start else runtime.stop_group)(group)
    console.print(f"{group}: {'started' if start else 'stopped'}")


@app.command("start-producer")
def start_producer() -> None:
    """Start the realtime generator service."""
    _group_command("producer", True)


@app.command("stop-producer")
def stop_producer() -> None:
    """Stop the realtime generator (it flushes and prints a summary)."""
    _group_command("producer", False)


@app.command("start-consumers")
def start_consumers() -> None:
    """Start the nine consumers (three groups, three instances each)."""
    _group_command("consumers", True)


@app.command("stop-consumers")
def stop_consumers() -> None:
    """Stop the nine consumers (each finishes its batch and commits)."""
    _group_command("consumers", False)


@app.command("start-console")
def start_console() -> None:
    """Start the web console (kafka-ui service)."""
    _group_command("console", True)


@app.command()
def produce(args: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Run the realtime generator in the foreground (arguments passed on)."""
    _run_module("apps.pipeline.produce", args or [], child_environment(_runtime(), _role("producer")))


@app.command()
def consume(group: Annotated[str, typer.Option(help="users, products or orders")], instance: int = 1) -> None:
    """Run one consumer instance in the foreground."""
    env = child_environment(_runtime(), _role("consumer", group))
    _run_module("apps.pipeline.consume", ["--group", group, "--instance", str(instance)], env)


@app.command("start-all")
def start_all(seed_data: Annotated[bool, typer.Option("--seed/--no-seed")] = True) -> None:
    """Everything: services, topics, seed data, consumers, producer, console."""
    started = time.monotonic()
    runtime = _runtime()
    runtime.up()
    runtime.start_group("console")
    if seed_data:
        _seed(runtime, None, None)
    # After the seed: nine starting consumers would take most of the 2 cores it needs (issue 15);
    # they then apply the catalogue from the topics.
    runtime.start_group("consumers")
    runtime.start_group("producer")
    settings = load(ConsoleSettings)
    _wait_console(settings)
    console.print(f"\n[bold green]pipeline running[/] ({time.monotonic() - started:.0f}s)")
    console.print(f"  console    http://localhost:{settings.port}")
    console.print("  services   make ps      logs  make logs / make logs-consumers")
    console.print("  check      python manage.py status   /   python manage.py verify")
    ps()


def _wait_console(settings: ConsoleSettings, timeout_s: float = 60) -> None:
    """Return once the console answers /healthz (it starts while the seeder runs)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/healthz", timeout=3):
                return
        except OSError:
            if time.monotonic() > deadline:
                console.print(f"[yellow]console not answering on port {settings.port} yet: see make logs[/]")
                return
            time.sleep(0.5)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Brokers, topics, consumer lag, table rows, dead letters (``--json`` for machines)."""
    from apps.status import collect_status, print_status

    runtime = _runtime()
    reader = _role("reader")
    report = collect_status(_kafka_settings(runtime, reader), _database_url(runtime, reader), runtime)
    if as_json:
        import json

        print(json.dumps(report, indent=2, default=str))
    else:
        print_status(report, console)


@app.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    wait: Annotated[float, typer.Option(help="seconds to wait for the groups to reach the snapshot")] = 60.0,
) -> None:
    """Reconcile Kafka with PostgreSQL at a snapshot: exit 0 ok, 1 mismatch, 3 still lagging, 2 not migrated."""
    from apps.verify import main

    runtime = _runtime()
    reader = _role("reader")
    argv = ["--wait", str(wait), *(["--json"] if as_json else [])]
    raise typer.Exit(main(argv, _kafka_settings(runtime, reader), _database_url(runtime, reader)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def benchmark(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="kafka | realtime | producer | sink | prune")]
) -> None:
    """Run a benchmark and write reports/; starts Kafka and PostgreSQL if needed, stops them after."""
    modules = {
        "kafka": "apps.benchmarks.kafka_comparison",
        "realtime": "apps.benchmarks.realtime_comparison",
        "producer": "apps.benchmarks.producer_bench",
        "sink": "apps.benchmarks.sink_bench",
        "prune": "apps.benchmarks.prune",  # the scratch topics earlier runs left behind
    }
    if name not in modules:
        raise RuntimeProblem(f"unknown benchmark {name!r}: choose one of {', '.join(modules)}")
    runtime = _runtime()
    with _benchmark_services(runtime, ("consumers", "producer") if "--live" in ctx.args else ()):
        _run_module(modules[name], ctx.args, child_environment(runtime, _role("admin")))


def _benchmark_services(runtime: Runtime, groups: tuple[str, ...]):  # noqa: ANN202 - a context manager
    """Start what a benchmark needs (as start-all does) and leave the services as they were found."""
    from apps.benchmarks import bring_up

    say = lambda line: console.print(line, highlight=False)  # noqa: E731
    if is_local(runtime):
        seed_first = lambda: _seed_if_missing(runtime)  # noqa: E731
        return bring_up.local_services(runtime, groups, say, {"producer": seed_first})
    kafka = _kafka_settings(runtime, _role("admin"))
    answering = lambda: bring_up.services_answer(kafka, _database_url(runtime))  # noqa: E731
    return bring_up.docker_services(runtime, answering, say)


def _seed_if_missing(runtime: Runtime) -> None:
    """Seed (as start-all does) unless the users topic already holds the catalogue: the producer needs it."""
    from apps.pipeline.produce import published_count
    from common.entities import USERS

    if published_count(_kafka_settings(runtime, _role("admin")), USERS.topic) < load(GeneratorSettings).seed_users:
        _seed(runtime, None, None)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def chaos(ctx: typer.Context, scenario: Annotated[str, typer.Argument(help="a scenario name or 'all'")]) -> None:
    """Break one part of the pipeline under load; count lost, duplicated, dead-lettered."""
    _run_module("apps.chaos", [scenario, *ctx.args], child_environment(_runtime(), _role("admin")))


@app.command("dlq-replay", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dlq_replay(ctx: typer.Context, topic: Annotated[str, typer.Option(help="users, products or orders")]) -> None:
    """Re-publish a topic's dead letters (after a fix) back to it, idempotently."""
    _run_module(
        "apps.pipeline.dlq_replay", ["--topic", topic, *ctx.args], child_environment(_runtime(), _role("admin"))
    )


def main() -> None:
    try:
        app()
    except (RuntimeProblem, SettingsError) as problem:
        console.print(f"[red]error:[/] {problem}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a dependency's own error types (database unavailable, Kafka down)
        if type(exc).__name__ in {"DatabaseUnavailable", "KafkaException"}:
            console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
