"""What a benchmark needs running, started as ``make start-all`` would and put back afterwards.

``make benchmark-*`` works from any state: after ``make down`` it starts Kafka and PostgreSQL
(``runtime.up()``: provision, start, migrate, topics), runs, and stops them again; with the
services already up it touches nothing that was running. A service that cannot start is one
``RuntimeProblem`` line (manage.py prints it), and whatever was started on the way is stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress

from apps.runtime.errors import RuntimeProblem
from common.settings import KafkaSettings
from kafka import clients

Say = Callable[[str], None]


def _running(runtime: object) -> set[str] | None:
    """Names of the local runtime's RUNNING programs; None when its supervisor is not running."""
    supervisor = runtime.supervisor  # type: ignore[attr-defined]
    if not supervisor.is_running():
        return None
    return {info["name"] for info in supervisor.info() if info["statename"] == "RUNNING"}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _start(action: Callable[[], None], what: str, undo: Callable[[], None]) -> None:
    """Run ``action``; on any failure run ``undo`` and raise one line naming ``what``."""
    try:
        action()
    except BaseException as exc:
        with suppress(Exception):  # the first failure is the one to report
            undo()
        if isinstance(exc, RuntimeProblem | KeyboardInterrupt):
            raise
        raise RuntimeProblem(f"could not start {what} for the benchmark: {_one_line(exc)}") from None


@contextmanager
def local_services(
    runtime: object,
    groups: Sequence[str] = (),
    say: Say = print,
    prepare: Mapping[str, Callable[[], None]] | None = None,
) -> Iterator[None]:
    """Kafka and PostgreSQL (and the programs of ``groups``) running inside; as found afterwards.

    ``prepare[group]`` runs before a group this call starts (the seed before the producer).
    """
    before = _running(runtime)
    core = runtime.names("kafka") + runtime.names("database")  # type: ignore[attr-defined]
    started: list[str] = []
    if before is None or not set(core) <= before:
        say("benchmark: starting Kafka and PostgreSQL (as make up does); they are stopped afterwards")
        undo = runtime.down if before is None else lambda: _stop(runtime, set(core) - (before or set()))  # type: ignore[attr-defined]
        _start(runtime.up, "Kafka and PostgreSQL", undo)  # type: ignore[attr-defined]
        started += [n for n in core if n not in (before or set())]
    for group in groups:
        missing = [n for n in runtime.names(group) if n not in (before or set())]  # type: ignore[attr-defined]
        if missing:
            say(f"benchmark: starting {group} (as make start-all does); stopped afterwards")
            if prepare and group in prepare:
                _start(prepare[group], f"{group} (its preparation)", lambda: None)
            _start(lambda g=group: runtime.start_group(g), group, lambda: None)  # type: ignore[attr-defined]
            started += missing
    try:
        yield
    finally:
        if before is None:
            say("benchmark: stopping the services it started (make down)")
            runtime.down()  # type: ignore[attr-defined]
        elif started:
            say(f"benchmark: stopping what it started: {', '.join(started)}")
            _stop(runtime, set(started))


def _stop(runtime: object, names: set[str]) -> None:
    """Stop ``names``, the Python services before the brokers and PostgreSQL they use."""
    order = [p.name for p in reversed(runtime.programs()) if p.name in names]  # type: ignore[attr-defined]
    for name in order:
        runtime.supervisor.stop(name)  # type: ignore[attr-defined]


@contextmanager
def docker_services(runtime: object, answering: Callable[[], bool], say: Say = print) -> Iterator[None]:
    """Docker: when Kafka or PostgreSQL does not answer, ``up`` them and stop those groups afterwards."""
    if answering():
        yield
        return
    say("benchmark: starting Kafka and PostgreSQL (as make up does); they are stopped afterwards")
    groups = ("console", "database", "kafka")
    _start(runtime.up, "Kafka and PostgreSQL", lambda: None)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for group in groups:
            runtime.stop_group(group)  # type: ignore[attr-defined]


def services_answer(kafka: KafkaSettings, database_url: str) -> bool:
    """Both Kafka (metadata within 5 s) and PostgreSQL (a connection within 3 s) answer."""
    import psycopg

    try:
        clients.admin(kafka, "bench-probe").list_topics(timeout=5)
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception:
        return False
    return True
