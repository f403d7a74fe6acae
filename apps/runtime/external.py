"""Services the project did not start: a Kafka cluster and a PostgreSQL server that run elsewhere.

``PIPELINE_KAFKA_BOOTSTRAP_SERVERS`` set to addresses that are not the local cluster's, and
``PIPELINE_DATABASE_URL`` set to a server that is not the local runtime's, make the local runtime
leave that part alone: no broker or database process is provisioned, started or stopped, and every
command uses the given addresses. Only the project's own Python services then run under supervisord.
The local services' own addresses never count as external: ``manage.py`` hands them to the
benchmarks and chaos runs it starts, which must still see (and may stop) the runtime's PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from common.settings import DatabaseSettings, KafkaSettings


def external_bootstrap(kafka: KafkaSettings | None, local_bootstrap: str) -> str | None:
    """The external cluster's bootstrap servers, or None when Kafka is the local cluster.

    External means: set explicitly (environment or ``.env``, not the default) and sharing no
    address with the local cluster, so pointing the variable at the local brokers changes nothing.
    """
    if kafka is None or "bootstrap_servers" not in kafka.model_fields_set:
        return None
    given = {_loopback(a) for a in kafka.bootstrap_servers.split(",")}
    return None if given & {_loopback(a) for a in local_bootstrap.split(",")} else kafka.bootstrap_servers


def external_database(database: DatabaseSettings, local_port: int) -> bool:
    """Whether ``PIPELINE_DATABASE_URL`` names a PostgreSQL other than the local one on ``local_port``."""
    if database.database_url is None:
        return False
    url = make_url(database.url)
    return _loopback(f"{url.host or ''}:{url.port or 5432}") != f"127.0.0.1:{local_port}"


def _loopback(address: str) -> str:
    """``localhost:19092`` is ``127.0.0.1:19092``: the same local broker, however it is written."""
    host, _, port = address.rpartition(":")
    return f"127.0.0.1:{port}" if host.lower() in {"localhost", "127.0.0.1", "[::1]"} else address


def describe(kafka_bootstrap: str | None, database_external: bool) -> str:
    """One line for ``up``/``ps``: which parts run elsewhere."""
    parts = [f"Kafka at {kafka_bootstrap}"] if kafka_bootstrap else []
    parts += ["PostgreSQL at PIPELINE_DATABASE_URL"] if database_external else []
    return "external services: " + ", ".join(parts) if parts else "local services"
