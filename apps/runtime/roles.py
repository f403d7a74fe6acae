"""Which principal each process runs as in the secure profile, and the environment that says so.

One Kafka principal (``kafka/acls.py``) and at most one database role (``database/roles.py``) per
role; a process gets its user names and the *paths* of its password files, never a password.
``db_role=None`` means no role of its own: the owner from ``.env`` (operator commands only).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.runtime import services as svc
from apps.runtime.certs import CertFiles
from apps.runtime.kafka_security import SCRAM_MECHANISM, kafka_password_name
from apps.runtime.secret_store import SecretStore
from database.roles import READER, writer
from kafka.acls import ADMIN, CONSOLE, PRODUCER, consumer_principal


@dataclass(frozen=True)
class Role:
    """A Kafka principal and the database role that go together."""

    kafka_user: str
    db_role: str | None = None


ADMIN_ROLE = Role(ADMIN)
PRODUCER_ROLE = Role(PRODUCER)
READER_ROLE = Role(CONSOLE, READER)  # the console, status and verify


def consumer_role(topic: str) -> Role:
    return Role(consumer_principal(topic), writer(topic))


def service_roles() -> dict[str, Role]:
    """Every supervised Python service's role."""
    roles = {svc.TOPIC_INIT.name: ADMIN_ROLE, svc.PRODUCER.name: PRODUCER_ROLE, svc.CONSOLE.name: READER_ROLE}
    for service in svc.consumer_services():
        roles[service.name] = consumer_role(service.args[service.args.index("--group") + 1])
    return roles


def db_password_name(role: str) -> str:
    """The SecretStore name of a database role's password."""
    return f"postgres-{role}"


def role_env(role: Role, store: SecretStore, certs: CertFiles) -> dict[str, str]:
    """PIPELINE_* variables that make a process connect as ``role`` (SASL_SSL, its own DB role)."""
    store.password(kafka_password_name(role.kafka_user))  # exists before the process reads it
    env = {
        "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PIPELINE_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
        "PIPELINE_KAFKA_SASL_USERNAME": role.kafka_user,
        "PIPELINE_KAFKA_SASL_PASSWORD_FILE": str(store.path(kafka_password_name(role.kafka_user))),
        "PIPELINE_KAFKA_SSL_CA_LOCATION": str(certs.ca_cert),
    }
    if role.db_role is not None:
        store.password(db_password_name(role.db_role))
        env["PIPELINE_POSTGRES_USER"] = role.db_role
        env["PIPELINE_POSTGRES_PASSWORD_FILE"] = str(store.path(db_password_name(role.db_role)))
    return env
