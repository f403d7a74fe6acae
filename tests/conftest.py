"""Session fixtures: one real Kafka cluster and one real PostgreSQL for the whole test run.

Where a Docker engine answers, testcontainers starts a KRaft Kafka and a PostgreSQL container;
everywhere else (our machines, CI) the project's own local runtime starts three brokers and a
private PostgreSQL on free ports in a temporary folder, under its own supervisord. Tests isolate
themselves with unique topic, group and schema names.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from sqlalchemy import create_engine, text

from apps.runtime.checks import free_port
from apps.runtime.detect import docker_engine_available
from apps.runtime.local import LocalRuntime
from apps.runtime.reaper import start_reaper
from common.logging import LogfmtFormatter
from common.settings import DatabaseSettings, KafkaSettings, RuntimeSettings, ScaleSettings
from database.database import make_engine
from database.migrate import upgrade
from tests.consumer_events import Running


def _start_local(base: Path) -> LocalRuntime:
    password = secrets.token_urlsafe(16)
    runtime_settings = RuntimeSettings(
        runtime="local",
        runtime_dir=base,
        kafka_ports=(free_port(), free_port(), free_port()),
        kafka_controller_ports=(free_port(), free_port(), free_port()),
        postgres_port=free_port(),
        kafka_heap="512m",
        metrics_base_port=0,  # supervised services serve no metrics unless a test asks (fixed ports collide)
    )
    db_settings = DatabaseSettings(database_url=None, postgres_password=password)
    scale = ScaleSettings(topic_partitions=3, consumer_instances=3)  # the tests' shape, whatever .env says
    runtime = LocalRuntime(runtime_settings, db_settings, scale=scale)
    runtime.up()
    return runtime


class _ContainerServices:
    """The same attributes tests use from LocalRuntime, backed by testcontainers."""

    supervisor = None

    def __init__(self) -> None:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        self._kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft().start()
        self._pg = PostgresContainer("postgres:15", driver="psycopg").start()
        self.bootstrap_servers = self._kafka.get_bootstrap_server()
        self.database_url = self._pg.get_connection_url()

    def down(self) -> None:
        self._kafka.stop()
        self._pg.stop()


class _ExternalServices:
    """Services someone else runs (``python-dev`` inside compose): addresses from PIPELINE_* settings."""

    supervisor = None

    def __init__(self) -> None:
        self.bootstrap_servers = KafkaSettings().bootstrap_servers
        self.database_url = DatabaseSettings().url

    def down(self) -> None:
        """Nothing to stop: we did not start them."""


def _choose_services(base: Path) -> LocalRuntime | _ContainerServices | _ExternalServices:
    """PIPELINE_TEST_RUNTIME: external | docker | local | auto (docker where an engine answers)."""
    mode = os.environ.get("PIPELINE_TEST_RUNTIME", "auto")
    if mode == "external":
        return _ExternalServices()
    if mode == "docker" or (mode == "auto" and docker_engine_available()):
        return _ContainerServices()
    return _start_local(base)


@pytest.fixture(scope="session")
def runtime() -> Iterator[LocalRuntime]:
    """The session's services; also exports their addresses as PIPELINE_* variables."""
    base = Path(tempfile.mkdtemp(prefix="pipeline-test-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root
    reaper = start_reaper(base)  # cleans up even if this session aborts before its teardown
    services = _choose_services(base)
    local = isinstance(services, LocalRuntime)
    bootstrap = services.cluster.bootstrap_servers if local else services.bootstrap_servers
    saved = dict(os.environ)
    os.environ["PIPELINE_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    os.environ["PIPELINE_DATABASE_URL"] = services.database_url
    try:
        yield services
    finally:
        os.environ.clear()
        os.environ.update(saved)
        services.down()
        reaper.kill()
        reaper.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Logs captured for a failure report carry their fields (``error=...``, ``topic=...``).

    pytest's own format prints the message alone: a CI failure once showed "consumer error" and
    not which error, as the services' logfmt lines would.
    """
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    for handler in (getattr(plugin, "caplog_handler", None), getattr(plugin, "report_handler", None)):
        if handler is not None:
            handler.setFormatter(LogfmtFormatter("tests"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Disruptive tests (chaos: brokers killed, frozen, restarted) run last, after the tests that
    need a quiet cluster; the order among the others is unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture
def healthy_cluster(runtime: LocalRuntime, kafka_settings: KafkaSettings) -> None:
    """Wait until every broker is registered and every pipeline partition is fully in sync.

    Tests that count brokers or members use it: a broker another test killed may still be
    rejoining (supervisord restarts it, the controller unfences it a moment later).
    """
    from apps.chaos.health import cluster_healthy, wait_for

    wait_for(lambda: cluster_healthy(kafka_settings), 180, "a healthy cluster")


@pytest.fixture(scope="session")
def bootstrap_servers(runtime: LocalRuntime) -> str:
    return os.environ["PIPELINE_KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture(scope="session")
def kafka_settings(bootstrap_servers: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap_servers)


@pytest.fixture(scope="session")
def database_url(runtime: LocalRuntime) -> str:
    return runtime.database_url


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("orders")`` -> ``orders-t1a2b3c4d5``: no two tests share a name."""
    return lambda prefix: f"{prefix}-t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_topic(kafka_settings: KafkaSettings, unique_name: Callable[[str], str]) -> Iterator[Callable[..., str]]:
    """Create real topics for one test; they are deleted when it ends."""
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
    created: list[str] = []

    def _make(
        name: str | None = None,
        partitions: int = 3,
        replication_factor: int = 3,
        config: dict[str, str] | None = None,
    ) -> str:
        topic = name or unique_name("topic")
        spec = NewTopic(topic, partitions, replication_factor, config=config or {"min.insync.replicas": "2"})
        admin.create_topics([spec])[topic].result(timeout=30)
        created.append(topic)
        return topic

    yield _make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            future.result(timeout=60)


@pytest.fixture
def pg_schema(database_url: str, unique_name: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    """A fresh schema and a URL whose search_path points at it; dropped afterwards."""
    schema = unique_name("s").replace("-", "_")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in database_url else "?"
    yield f"{database_url}{separator}options=-csearch_path%3D{schema}", schema
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def schema_url(database_url, unique_name):
    """Like ``pg_schema``, migrated, and with a pre-ping engine so it survives a PostgreSQL restart."""
    schema = unique_name("c").replace("-", "_")
    engine = make_engine(database_url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def names(make_topic, unique_name):
    """``names("orders")`` -> (topic, dlq, group), topics created with three partitions."""

    def _names(entity: str, partitions: int = 3) -> tuple[str, str, str]:
        topic = make_topic(unique_name(entity), partitions=partitions)
        return topic, make_topic(f"{topic}-dlq", partitions=1), unique_name(f"{entity}-group")

    return _names


@pytest.fixture
def running():
    members = Running()
    yield members
    members.stop()
