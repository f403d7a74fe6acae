"""One source of truth for configuration: environment variables with a ``PIPELINE_`` prefix.

Each concern has its own ``BaseSettings`` class, read from the environment and from ``.env``
(ignored by git; ``.env.example`` documents every variable). Build them in ``main()`` and pass
them down, so tests can construct exactly what they need without global state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("PIPELINE_ENV_FILE", PROJECT_ROOT / ".env"))


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")


def _check_host_port(address: str) -> str:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port with a port in 1-65535")
    return address.strip()


class KafkaSettings(BaseSettings):
    """How every Kafka client (producer, consumers, admin, console) reaches the cluster."""

    model_config = _config("PIPELINE_KAFKA_")

    bootstrap_servers: str = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None  # the secure profile passes each role's password by file
    ssl_ca_location: Path | None = None
    client_id: str = "ecommerce-pipeline"

    # producer knobs (see GUIDE/KAFKA_PRODUCER_GUIDE.md)
    # 150, not 30: at app-side rates 30 ms batches are small, and the brokers' CPU goes per request
    # (steady ON, nine consumers: 1,199 -> 2,967 acknowledged events/s in one run, issue 15)
    linger_ms: int = Field(150, ge=0, le=60_000)
    # the realtime generator's shop mode flushes after each round of events (apps/pipeline/produce.py),
    # which sends at once whatever the linger: the linger only has to outlast a round's sends, so a
    # 100-event burst is never split into requests that wait on each other (GUIDE/KAFKA_BENCHMARK_GUIDE.md)
    realtime_linger_ms: int = Field(100, ge=0, le=60_000)
    # bulk sends (the seeder, unthrottled load mode): only throughput counts, and the brokers' CPU
    # goes per request: 500 ms instead of 30 tripled the seed's rate on 2 cores (issue 15)
    bulk_linger_ms: int = Field(500, ge=0, le=60_000)
    # bulk sends fill librdkafka's largest batches (its default, 1 MB): fewer requests per message
    bulk_batch_size: int = Field(1_000_000, ge=1, le=16 * 1024 * 1024)
    batch_size: int = Field(262_144, ge=1, le=16 * 1024 * 1024)
    compression_type: Literal["lz4", "zstd", "snappy", "gzip", "none"] = "lz4"
    queue_buffering_max_messages: int = Field(200_000, ge=1)
    delivery_timeout_ms: int = Field(120_000, ge=1_000)

    # consumer knobs (see GUIDE/KAFKA_CONSUMER_GUIDE.md)
    consumer_batch_size: int = Field(5_000, ge=1, le=100_000)
    consumer_batch_timeout_s: float = Field(0.2, gt=0, le=60)
    consumer_commit_interval_s: float = Field(1.0, ge=0, le=60)  # 0: commit after every batch
    # A fetch returns once this much is there or the wait is over. librdkafka's defaults stay: the
    # producer's linger already batches the data, so a fetch returns once per produce; 64 KiB / 25 ms
    # made the consumers fetch every 25 ms instead and cost the brokers more (GUIDE/KAFKA_BENCHMARK_GUIDE.md)
    consumer_fetch_min_bytes: int = Field(1, ge=1, le=100_000_000)
    consumer_fetch_wait_max_ms: int = Field(500, ge=0, le=300_000)
    # Test-only: offsets in Kafka alone (at-least-once), so tests can show verify catching a double count.
    consumer_offsets_in_kafka_only: bool = False
    session_timeout_ms: int = Field(10_000, ge=1_000)
    max_poll_interval_ms: int = Field(300_000, ge=10_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _valid_bootstrap(cls, value: str) -> str:
        servers = [s for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("at least one host:port is required")
        return ",".join(_check_host_port(s) for s in servers)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        has_password = self.sasl_password is not None or self.sasl_password_file is not None
        if self.security_protocol.startswith("SASL") and not (self.sasl_username and has_password):
            raise ValueError(
                "SASL needs PIPELINE_KAFKA_SASL_USERNAME and PIPELINE_KAFKA_SASL_PASSWORD (or _PASSWORD_FILE)"
            )
        return self

    def bulk(self) -> KafkaSettings:
        """These settings with the bulk profile's linger and batch size as the producer's own.

        For unthrottled sends measured for throughput (a benchmark's closed loop, its Kafka ceiling).
        """
        return self.model_copy(update={"linger_ms": self.bulk_linger_ms, "batch_size": self.bulk_batch_size})

    def sasl_secret(self) -> str | None:
        """The SASL password: the setting itself, else the file's content (read when a client is built)."""
        if self.sasl_password is not None:
            return self.sasl_password.get_secret_value()
        return _read_secret(self.sasl_password_file)


def _read_secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the secret file {path}: {exc.strerror}") from None


class DatabaseSettings(BaseSettings):
    """Where PostgreSQL is. ``PIPELINE_DATABASE_URL`` wins; otherwise the local server's parts."""

    model_config = _config("PIPELINE_")

    database_url: SecretStr | None = None
    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(15432, gt=0, lt=65536)
    postgres_user: str = "pipeline"
    postgres_password: SecretStr = SecretStr("")
    postgres_password_file: Path | None = None  # wins over postgres_password (the secure profile's roles)
    postgres_db: str = "pipeline"
    pool_size: int = Field(5, ge=1, le=100)

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must start with postgresql:// or postgresql+psycopg://")
        return value

    @property
    def url(self) -> str:
        """SQLAlchemy URL with the psycopg 3 driver (see GUIDE/DB_README.md for why)."""
        if self.database_url is not None:
            raw = self.database_url.get_secret_value()
            for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
                if raw.startswith(prefix):
                    return "postgresql+psycopg://" + raw[len(prefix) :]
        from urllib.parse import quote

        secret = _read_secret(self.postgres_password_file) or self.postgres_password.get_secret_value()
        password = quote(secret, safe="")
        return (
            f"postgresql+psycopg://{self.postgres_user}:{password}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )


class RuntimeSettings(BaseSettings):
    """The local runtime: where provisioned Kafka and PostgreSQL live, and their ports."""

    model_config = _config("PIPELINE_")

    runtime: Literal["auto", "local", "docker"] = "auto"
    runtime_dir: Path = PROJECT_ROOT / ".runtime"
    kafka_version: str = "4.1.1"
    kafka_libs_dir: Path = PROJECT_ROOT / ".runtime" / "kafka-libs"
    kafka_ports: tuple[int, int, int] = (19092, 19093, 19094)
    kafka_controller_ports: tuple[int, int, int] = (29092, 29093, 29094)
    kafka_heap: str = "768m"
    # Extra JVM options of each broker, space-separated. C1 only: on 2 cores three brokers' C2
    # compilers burned more CPU than the brokers' own work for minutes after a start (steady ON
    # from cold: 517 -> 144 us of broker CPU per event; issue 15). "" brings C2 back.
    kafka_jvm_options: str = "-XX:TieredStopAtLevel=1"
    kafka_cluster_id: str = "ecomPipelineKRaft01xQ"
    postgres_port: int = Field(15432, gt=0, lt=65536)
    # the producer serves its metrics on this port, the nine consumers on the next nine; 0: none
    metrics_base_port: int = Field(9400, ge=0, lt=65527)
    # plaintext: no TLS, no authentication (a first run on 127.0.0.1). secure: TLS on every Kafka
    # listener, SCRAM-SHA-512 and ACLs per role, PostgreSQL roles with scram-sha-256 (GUIDE/SECURITY.md).
    security: Literal["plaintext", "secure"] = "plaintext"
    kafka_internal_ports: tuple[int, int, int] = (39092, 39093, 39094)  # secure: inter-broker (mTLS)

    @field_validator("kafka_ports", "kafka_controller_ports", "kafka_internal_ports")
    @classmethod
    def _valid_ports(cls, ports: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 < p < 65536 for p in ports) or len(set(ports)) != 3:
            raise ValueError("three distinct ports in 1-65535")
        return ports

    @property
    def secure(self) -> bool:
        return self.security == "secure"

    @property
    def secrets_dir(self) -> Path:
        """Generated passwords, keys and certificates (git-ignored with the runtime folder, mode 0700)."""
        return self.runtime_dir / "secrets"

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.kafka_ports)


class GeneratorSettings(BaseSettings):
    """What the seeder and the realtime generator produce."""

    model_config = _config("PIPELINE_")

    seed: int = 42
    locale: str = "ko_KR"
    seed_users: int = Field(10_000, ge=0)
    seed_products: int = Field(20_000, ge=0)
    realtime_rate: float | None = Field(None, gt=0, description="load mode: events/s")


class ConsoleSettings(BaseSettings):
    """The web console (service ``kafka-ui``)."""

    model_config = _config("PIPELINE_CONSOLE_")

    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    allow_actions: bool = False
    token: SecretStr | None = None
    # the services whose /metrics the console's /metrics gathers: "name=host:port,..."
    metrics_targets: str = ""

    @field_validator("metrics_targets")
    @classmethod
    def _valid_targets(cls, value: str) -> str:
        for target in filter(None, (t.strip() for t in value.split(","))):
            name, sep, address = target.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"{target!r} is not name=host:port")
            _check_host_port(address)
        return value

    @property
    def targets(self) -> dict[str, str]:
        """Service name -> ``host:port`` of its metrics endpoint."""
        pairs = (t.strip().partition("=") for t in self.metrics_targets.split(",") if t.strip())
        return {name.strip(): address.strip() for name, _, address in pairs}


class MetricsSettings(BaseSettings):
    """Where this process serves its Prometheus metrics; port 0 serves none (the default outside a runtime)."""

    model_config = _config("PIPELINE_METRICS_")

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, lt=65536)


class ScaleSettings(BaseSettings):
    """How wide the pipeline runs: partitions per entity topic and consumer instances per group.

    One consumer instance reads one or more partitions; instances beyond the partition count get
    none and idle (``status`` shows them). Partitions only grow (see GUIDE/SCALING.md).
    """

    model_config = _config("PIPELINE_")

    topic_partitions: int = Field(3, ge=1, le=1_000)
    consumer_instances: int = Field(3, ge=1, le=100)


class SettingsError(SystemExit):
    """Raised with one readable line per invalid setting, instead of a stack trace."""


def load(settings_cls: type[BaseSettings], **overrides: object) -> BaseSettings:
    """Build a settings object, turning validation errors into one clear line per setting."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        prefix = settings_cls.model_config.get("env_prefix", "")
        lines = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["loc"]:  # one field; a model-level check names its settings in the message itself
                lines.append(f"invalid setting {(prefix + '_'.join(str(p) for p in err['loc'])).upper()}: {message}")
            else:
                lines.append(f"invalid settings: {message}")
        raise SettingsError("\n".join(lines)) from None
