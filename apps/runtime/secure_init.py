"""The secure profile's two setup steps as commands, for Docker Compose (``LocalRuntime`` runs them in-process).

``python -m apps.runtime.secure_init secrets /secrets /kafka-secrets`` (the ``secrets-init`` service, as
root): CA, certificates and every password into the secrets volume, owned by the Python image's user;
the brokers' key store, CA and key password into their own volume, owned by the Kafka image's user;
all mode 0600. ``python -m apps.runtime.secure_init setup /secrets`` (``topic-init``, after the
migrations): the database roles and the SCRAM users, as the owner and through the mTLS listener.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from apps.runtime.certs import CertFiles
from apps.runtime.kafka_security import BrokerTls, broker_tls, ensure_scram_users, kafka_password_name
from apps.runtime.roles import db_password_name
from apps.runtime.secret_store import SecretStore, write_private
from database.roles import ensure_roles, wanted_privileges
from kafka.acls import SCRAM_USERS

KAFKA_UID, APP_UID = 1000, 10001  # apache/kafka's appuser; deploy/Dockerfile's app
KAFKA_MOUNT = Path("/etc/kafka/secrets")  # where the brokers mount their volume
INTERNAL_BOOTSTRAP = "kafka-1:9094,kafka-2:9094,kafka-3:9094"


def make_secrets(folder: Path, kafka: Path) -> None:
    """Everything the secure compose services read; existing secrets are kept."""
    store = SecretStore(folder)
    tls = broker_tls(store)
    for user in SCRAM_USERS:
        store.password(kafka_password_name(user))
    for role in wanted_privileges():
        store.password(db_password_name(role))
    for source in (tls.certs.keystore, tls.certs.ca_cert):
        write_private(kafka / source.name, source.read_bytes())
    write_private(kafka / "broker-tls.properties", f"password={tls.key_password}\n".encode())  # FileConfigProvider
    in_kafka = BrokerTls(CertFiles(KAFKA_MOUNT), tls.key_password)  # the same files, as the brokers see them
    in_kafka.write_tool_config(kafka / "internal-client.properties")
    if os.geteuid() == 0:
        for top, uid in ((folder, APP_UID), (kafka, KAFKA_UID)):
            for path in [top, *top.rglob("*")]:
                shutil.chown(path, uid, uid)


def setup(folder: Path) -> None:
    """Database roles (as the owner from the environment), then the SCRAM users."""
    from psycopg.conninfo import make_conninfo

    from common.settings import DatabaseSettings, load

    store = SecretStore(folder)
    db = load(DatabaseSettings)
    owner = make_conninfo(
        host=db.postgres_host, port=db.postgres_port, dbname=db.postgres_db,
        user=db.postgres_user, password=db.postgres_password.get_secret_value(),
    )  # fmt: skip
    ensure_roles(owner, {role: store.password(db_password_name(role)) for role in wanted_privileges()})
    ensure_scram_users(broker_tls(store), INTERNAL_BOOTSTRAP, store)


def main(argv: list[str]) -> int:
    if argv[:1] == ["secrets"] and len(argv) == 3:
        make_secrets(Path(argv[1]), Path(argv[2]))
    elif argv[:1] == ["setup"] and len(argv) == 2:
        setup(Path(argv[1]))
    else:
        print("usage: python -m apps.runtime.secure_init secrets FOLDER KAFKA_FOLDER | setup FOLDER", file=sys.stderr)
        return 2
    print(f"secure-init: {argv[0]} done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
