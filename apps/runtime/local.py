"""The local runtime: the pipeline's services as processes on 127.0.0.1 under supervisord.

``up()`` provisions what is missing (Kafka jars, storage, PostgreSQL data), starts the
brokers and PostgreSQL, waits until they are ready, migrates the database and creates the
topics. Everything lives under ``RuntimeSettings.runtime_dir`` (git-ignored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from apps.runtime import prerequisites
from apps.runtime import services as svc
from apps.runtime.checks import require_free_ports
from apps.runtime.errors import RuntimeProblem
from apps.runtime.external import external_bootstrap, external_database
from apps.runtime.kafka_cluster import KafkaCluster
from apps.runtime.kafka_security import broker_tls, ensure_scram_users
from apps.runtime.postgres_server import PostgresServer
from apps.runtime.roles import Role, db_password_name, role_env, service_roles
from apps.runtime.secret_store import SecretStore
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
LAST_BROKER_GRACE_S = 3.0  # see down()


@dataclass
class ServiceStatus:
    """One row of ``make ps``."""

    name: str
    state: str
    pid: int | None
    uptime_s: int | None
    detail: str = ""
    metrics: str = ""  # where its Prometheus metrics are served


class LocalRuntime:
    """Start, stop and inspect the local services."""

    kind: Literal["local", "docker"] = "local"

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
        self.secrets = SecretStore(runtime.secrets_dir)
        self.tls = broker_tls(self.secrets) if runtime.secure else None  # first secure run: CA, certificates
        self.scale = scale or ScaleSettings()
        self.cluster = KafkaCluster(runtime, self.tls)
        self.external_kafka = external_bootstrap(kafka, self.cluster.bootstrap_servers)  # None: ours
        self.external_db = external_database(database, runtime.postgres_port)
        if runtime.secure and self.external_db:
            raise RuntimeProblem("PIPELINE_SECURITY=secure needs the private PostgreSQL: unset PIPELINE_DATABASE_URL")
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
        if self.database.database_url is not None:  # external, or the URL manage.py gave its child
            return self.database.url
        return self.database.model_copy(
            update={"postgres_port": self.settings.postgres_port, "postgres_host": "127.0.0.1"}
        ).url

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or self.cluster.bootstrap_servers

    def child_env(self, role: Role | None = None) -> dict[str, str]:
        """Settings every supervised Python service inherits, so they find this runtime.

        In the secure profile no URL carries a password: a process gets the database's address, and
        with ``role`` its principals and the paths of their password files.
        """
        env = {
            "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "PIPELINE_DATABASE_URL": self.database_url,
            "PIPELINE_RUNTIME_DIR": str(self.settings.runtime_dir),
            "PIPELINE_RUNTIME": "local",
            "PIPELINE_SECURITY": self.settings.security,
            "PIPELINE_CONSOLE_PORT": str(self.console.port),
            "PIPELINE_CONSOLE_METRICS_TARGETS": ",".join(
                f"{name}=127.0.0.1:{port}" for name, port in self._metrics_ports().items()
            ),
            "PIPELINE_TOPIC_PARTITIONS": str(self.scale.topic_partitions),
            "PIPELINE_CONSUMER_INSTANCES": str(self.scale.consumer_instances),
            "PYTHONUNBUFFERED": "1",
        }
        if self.tls is not None:
            env |= {
                "PIPELINE_DATABASE_URL": "",
                "PIPELINE_POSTGRES_HOST": "127.0.0.1",
                "PIPELINE_POSTGRES_PORT": str(self.settings.postgres_port),
                "PIPELINE_POSTGRES_DB": self.database.postgres_db,
            }
            if role is not None:
                env |= role_env(role, self.secrets, self.tls.certs)
        return env

    def role_database_url(self, role: Role) -> str:
        """The SQLAlchemy URL of ``role``'s database role (the owner's outside the secure profile)."""
        if self.tls is None or role.db_role is None:
            return self.database_url
        password = self.secrets.password(db_password_name(role.db_role))
        return self.database.model_copy(
            update={
                "postgres_port": self.settings.postgres_port, "postgres_host": "127.0.0.1",
                "postgres_user": role.db_role, "postgres_password": SecretStr(password),
                "postgres_password_file": None,
            }
        ).url  # fmt: skip

    def programs(self) -> list[Program]:
        programs = [
            Program(node.name, self.cluster.node_command(node), "kafka", start_s=3)
            for node in ([] if self.external_kafka else self.cluster.nodes)
        ]
        if not self.external_db:
            programs.append(
                Program("postgres", self.postgres.command(), "database", user=self.postgres.os_user, stop_signal="INT")
            )
        ports = self._metrics_ports()
        roles = service_roles() if self.tls is not None else {}
        for s in svc.python_services(self.scale.consumer_instances):
            env = _metrics_env(ports.get(s.name))
            if s.name in roles:
                env += tuple(role_env(roles[s.name], self.secrets, self.tls.certs).items())
            programs.append(Program(s.name, s.argv(), s.group, oneshot=s.oneshot, stop_wait_s=20, env=env))
        return programs

    def metrics_address(self, name: str) -> str:
        """``host:port`` whose ``/metrics`` a service serves ("" when it serves none)."""
        if name == svc.CONSOLE.name:
            return f"{self.console.host}:{self.console.port}"
        port = self._metrics_ports().get(name)
        return f"127.0.0.1:{port}" if port else ""

    def _metrics_ports(self) -> dict[str, int]:
        return svc.metrics_ports(self.settings.metrics_base_port, self.scale.consumer_instances)

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
        if self.tls is not None:
            self.ensure_database_roles()
        if not self.external_kafka:
            self.cluster.wait_ready()
            if self.tls is not None:  # before topic-init: it connects as the admin principal
                ensure_scram_users(self.tls, self.cluster.internal_bootstrap_servers, self.secrets)
        self.run_oneshot("topic-init")

    def ensure_database_roles(self) -> None:
        """The secure profile's least-privilege roles, as the owner, after the migrations."""
        from database.roles import ensure_roles, wanted_privileges

        passwords = {role: self.secrets.password(db_password_name(role)) for role in wanted_privileges()}
        from psycopg.conninfo import make_conninfo

        owner = make_conninfo(
            host="127.0.0.1", port=self.postgres.port, user=self.postgres.user, dbname=self.postgres.database,
            password=self.postgres.password,
        )  # fmt: skip
        ensure_roles(owner, passwords)

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
        self.supervisor.stop_all_of(names)

    def down(self) -> None:
        """Stop every service and supervisord; no process is left behind.

        The clients first, side by side, while Kafka and PostgreSQL still answer: a consumer stopped
        with the brokers would wait out its stop timeout trying to commit and leave its group.
        Then the brokers side by side. The last one standing has no controller quorum left: it
        retried elections until supervisord killed it after 30 s, or gave up after about 6 s, at
        random. It is killed after LAST_BROKER_GRACE_S instead; a killed process loses no data it
        wrote, and the next start recovers its log as after any crash.
        """
        servers = {*self.names("kafka"), *self.names("database")}
        if self.supervisor.is_running():
            self.supervisor.stop_all_of([i["name"] for i in self.supervisor.info() if i["name"] not in servers])
            self.supervisor.stop_all_of(self.names("kafka"), last_grace_s=LAST_BROKER_GRACE_S)
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
                    metrics=self.metrics_address(info["name"]),
                )
            )
        return rows

    def services(self) -> list[ServiceStatus]:
        """The supervised services (the ``Runtime`` interface's name for ``ps``)."""
        return self.ps()

    def log_file(self, name: str) -> Path:
        return self.supervisor.log_file(name)


def _metrics_env(port: int | None) -> tuple[tuple[str, str], ...]:
    return (("PIPELINE_METRICS_PORT", str(port)),) if port else ()
