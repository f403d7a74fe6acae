"""The secure profile's Kafka side: TLS on every listener, SCRAM for clients, ACLs enforced.

Three listeners per node, none of them plaintext:

- ``CLIENT`` (SASL_SSL, SCRAM-SHA-512) on ``kafka_ports``: every pipeline process, one principal per role;
- ``INTERNAL`` (SSL, client certificate required) on ``kafka_internal_ports``: replication between nodes;
- ``CONTROLLER`` (SSL, client certificate required): the KRaft quorum.

The certificate principal is its CN (``ssl.principal.mapping.rules``), so the nodes are ``User:broker``,
a super user. SCRAM users are created through the INTERNAL listener with the broker's own
certificate (the bootstrap path): no password ever appears on a command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.runtime.certs import CertFiles, ensure_certificates
from apps.runtime.secret_store import SecretStore, write_private
from kafka.acls import SCRAM_USERS, SUPER_USERS

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
BROKER_KEY_ENTRY = "broker-key"  # the SecretStore name of the broker key's password
_SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"  # server side: no credentials


@dataclass(frozen=True)
class BrokerTls:
    """The files and key password every node's TLS needs."""

    certs: CertFiles
    key_password: str

    def properties(self) -> str:
        """The security part of server.properties (listeners are set per node)."""
        supers = ";".join(f"User:{name}" for name in SUPER_USERS)
        return f"""\
ssl.keystore.type=PKCS12
ssl.keystore.location={self.certs.keystore}
ssl.keystore.password={self.key_password}
ssl.key.password={self.key_password}
ssl.truststore.type=PEM
ssl.truststore.location={self.certs.ca_cert}
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT
sasl.enabled.mechanisms={SCRAM_MECHANISM}
listener.name.client.sasl.enabled.mechanisms={SCRAM_MECHANISM}
listener.name.client.scram-sha-512.sasl.jaas.config={_SCRAM_JAAS}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users={supers}
"""

    def internal_client(self, bootstrap: str) -> dict[str, Any]:
        """Librdkafka config for the INTERNAL listener with the broker's certificate (a super user)."""
        return {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SSL",
            "ssl.ca.location": str(self.certs.ca_cert),
            "ssl.certificate.location": str(self.certs.broker_cert),
            "ssl.key.location": str(self.certs.broker_key),
            "ssl.key.password": self.key_password,
            "log_level": 0,
        }

    def write_tool_config(self, path: Path) -> Path:
        """The same client as a properties file for Kafka's Java tools (``--command-config``)."""
        text = f"""\
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location={self.certs.ca_cert}
ssl.keystore.type=PKCS12
ssl.keystore.location={self.certs.keystore}
ssl.keystore.password={self.key_password}
ssl.key.password={self.key_password}
"""
        write_private(path, text.encode())
        return path


def broker_tls(store: SecretStore) -> BrokerTls:
    """The CA, the broker certificate and its key password, created on first use."""
    password = store.password(BROKER_KEY_ENTRY)
    return BrokerTls(ensure_certificates(store.folder, password), password)


def kafka_password_name(user: str) -> str:
    """The SecretStore name of a SCRAM user's password."""
    return f"kafka-{user}"


def ensure_scram_users(tls: BrokerTls, bootstrap: str, store: SecretStore, timeout_s: float = 30) -> None:
    """Create (or update, after a rotation) every role's SCRAM-SHA-512 credential from the secrets folder."""
    from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    admin = AdminClient(tls.internal_client(bootstrap))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [
        UserScramCredentialUpsertion(user, info, store.password(kafka_password_name(user)).encode())
        for user in SCRAM_USERS
    ]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s).values():
        future.result()
