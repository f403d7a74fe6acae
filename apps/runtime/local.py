"""The local runtime: the pipeline's services as processes on 127.0.0.1 under supervisord.

``up()`` provisions what is missing (Kafka jars, storage, PostgreSQL data), starts the
brokers and PostgreSQL, waits until they are ready, migrates the database and creates the
topics. Everything lives under ``RuntimeSettings.runtime_dir`` (git-ignored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from apps.runtime import prerequisites
from apps.runtime import services as svc
from apps.runtime.checks import require_free_ports
from apps.runtime.errors import RuntimeProblem
from apps.runtime.external import external_bootstrap
from apps.runtime.kafka_cluster import KafkaCluster
from apps.runtime.postgres_server import PostgresServer
from apps.runtime.supervisor import Program, Supervisor
from common.settings import (
    PROJECT_ROOT,
    ConsoleSettings,
    DatabaseSettings,
    KafkaSettings,
    RuntimeSettings,
    ScaleSettings,
)

MAX_INSTANCES = 100  # PIPELINE_CONSUMER_INSTANCES' upper bound


@dataclass
class ServiceStatus:
    """One row of ``make ps``."""

    name: str
    state: str
    pid: int | None
    uptime_s: int | None
    detail: str = ""


class LocalRuntime:
    """Start, stop and inspect the local services."""

    def __init__(
        self,
        runtime: RuntimeSettings,
        database: DatabaseSettings,
        console: ConsoleSettings | None = None,
        scale: ScaleSettings | None = None,
        kafka: KafkaSettings | None = None,
    ) -> None:
        self.settings = runtime
        self.database = database
        self.console = console or ConsoleSettings()
        self.scale = scale or ScaleSettings()
        self.cluster = KafkaCluster(runtime)
        self.external_kafka = external_bootstrap(kafka, self.cluster.bootstrap_servers)  # None: ours
        self.external_db = database.database_url is not None
        self.postgres = PostgresServer(
            home=runtime.runtime_dir / "postgres",
            port=runtime.postgres_port,
            user=database.postgres_user,
            password=database.postgres_password.get_secret_value(),
            database=database.postgres_db,
        )
        self.supervisor = Supervisor(runtime.runtime_dir / "supervisor", runtime.runtime_dir / "logs", PROJECT_ROOT)

    # --- what runs ----------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        if self.external_db:
            return self.database.url
        return self.database.model_copy(
            update={"postgres_port": self.settings.postgres_port, "postgres_host": "127.0.0.1"}
        ).url

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or self.cluster.bootstrap_servers

    def child_env(self) -> dict[str, str]:
        """Settings every supervised Python service inherits, so they find this runtime."""
        return {
            "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "PIPELINE_DATABASE_URL": self.database_url,
            "PIPELINE_RUNTIME_DIR": str(self.settings.runtime_dir),
            "PIPELINE_RUNTIME": "local",
            "PIPELINE_CONSOLE_PORT": str(self.console.port),
            "PIPELINE_TOPIC_PARTITIONS": str(self.scale.topic_partitions),
            "PIPELINE_CONSUMER_INSTANCES": str(self.scale.consumer_instances),
            "PYTHONUNBUFFERED": "1",
        }

    def programs(self) -> list[Program]:
        programs = [
            Program(node.name, self.cluster.node_command(node), "kafka", start_s=3)
            for node in ([] if self.external_kafka else self.cluster.nodes)
        ]
        if not self.external_db:
            programs.append(
                Program("postgres", self.postgres.command(), "database", user=self.postgres.os_user, stop_signal="INT")
            )
        programs += [
            Program(s.name, s.argv(), s.group, oneshot=s.oneshot, stop_wait_s=20)
            for s in svc.python_services(self.scale.consumer_instances)
        ]
        return programs

    def names(self, group: str) -> list[str]:
        return [p.name for p in self.programs() if p.group == group]

    # --- lifecycle ----------------------------------------------------------------------------
    def up(self) -> None:
        """Bring up Kafka and PostgreSQL, migrate, create topics. Safe to run again."""
        if not self.supervisor.is_running():
            ports = {} if self.external_kafka else self.cluster.ports()
            if not self.external_db:
                ports["postgres"] = self.settings.postgres_port
            require_free_ports(ports)
        jars_missing = not (self.cluster.libs / ".complete").exists()
        prerequisites.ensure(prerequisites.missing(not self.external_kafka, jars_missing, not self.external_db))
        if not self.external_kafka:
            self.cluster.provision()
        if not self.external_db:
            self.postgres.provision()
        self.supervisor.write_config(self.programs())
        self.supervisor.start_daemon(self.child_env())
        for name in self.names("kafka") + self.names("database"):
            self.supervisor.start(name, wait=False)
        if not self.external_db:
            self.wait_postgres()
            self.postgres.create_database()
        self.migrate()
        if not self.external_kafka:
            self.cluster.wait_ready()
            self.cluster.ensure_scram_user()  # no-op unless the SASL listener is enabled
        self.run_oneshot("topic-init")

    def wait_postgres(self, timeout_s: float = 60) -> None:
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.postgres.port} user={self.postgres.user} dbname=postgres"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(conninfo, password=self.postgres.password, connect_timeout=3).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeProblem(f"PostgreSQL not ready after {timeout_s:.0f}s: {exc}".strip()) from None
                time.sleep(0.3)

    def migrate(self) -> None:
        """Apply Alembic migrations (``database.migrate``), waiting for the database first."""
        from database.migrate import upgrade

        upgrade(self.database_url)

    def run_oneshot(self, name: str) -> None:
        self.supervisor.start(name, wait=False)
        self.supervisor.wait_oneshot(name)

    def start_group(self, group: str) -> None:
        known = {info["name"] for info in self.supervisor.info()}
        external = self.external_kafka and self.external_db  # nothing of ours to bring up first
        if not known and not external:
            raise RuntimeProblem(f"nothing is running in {self.settings.runtime_dir}: 'make up' first")
        if not set(self.names(group)) <= known:  # first start on external services, or more instances
            self.supervisor.write_config(self.programs())
            self.supervisor.start_daemon(self.child_env())  # when running: adds the new programs only
        for name in self.names(group):
            self.supervisor.start(name, wait=False)

    def stop_group(self, group: str) -> None:
        """Stop the group's programs, and members left over from a larger instance setting."""
        names = self.names(group)
        if group == "consumers":
            members = {s.name for s in svc.consumer_services(MAX_INSTANCES)}
            names += [i["name"] for i in self.supervisor.info() if i["name"] in members and i["name"] not in names]
        for name in names:
            self.supervisor.stop(name)

    def down(self) -> None:
        """Stop every service and supervisord; no process is left behind."""
        self.supervisor.shutdown()

    def ps(self) -> list[ServiceStatus]:
        rows = []
        now = time.time()
        for info in self.supervisor.info():
            running = info["statename"] == "RUNNING"
            rows.append(
                ServiceStatus(
                    name=info["name"],
                    state=info["statename"],
                    pid=info["pid"] or None,
                    uptime_s=int(now - info["start"]) if running else None,
                    detail=f"exit {info['exitstatus']}" if info["statename"] == "EXITED" else "",
                )
            )
        return rows

    def log_file(self, name: str) -> Path:
        return self.supervisor.log_file(name)
