"""A private certificate authority and the brokers' certificate, made on first run (PEM, mode 0600).

Kafka 4 reads a PEM trust store (``ssl.truststore.type=PEM``), so no keytool and no JKS: the CA signs one
broker certificate (CN=broker, valid for 127.0.0.1, localhost and the compose host names) that
every node presents on every listener and also uses as its client certificate between nodes
(mTLS on the inter-broker and controller listeners). The broker key is stored encrypted: as PEM
(PKCS#8) for Python clients, and as a PKCS#12 key store for the JVM.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apps.runtime.secret_store import write_private

BROKER_HOSTS = ("localhost", "kafka-1", "kafka-2", "kafka-3")
VALID_DAYS = 825


@dataclass(frozen=True)
class CertFiles:
    """Where the files are; ``keystore`` (PKCS#12) holds the broker's key and its certificate chain."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def broker_cert(self) -> Path:
        return self.folder / "broker.crt"

    @property
    def broker_key(self) -> Path:
        return self.folder / "broker.key"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker.p12"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def make_ca(common_name: str = "pipeline-ca") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (P-256): a key and a certificate that may sign others."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, hosts: tuple[str, ...]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A certificate for ``common_name`` valid for 127.0.0.1 and ``hosts``, as server and as client."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *(x509.DNSName(h) for h in hosts)]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        _builder(common_name, ca_cert.subject, key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def ensure_certificates(folder: Path, key_password: str) -> CertFiles:
    """Create the CA and the broker certificate unless they exist; existing files are kept."""
    files = CertFiles(folder)
    if files.ca_cert.exists() and files.keystore.exists() and files.broker_key.exists():
        return files
    ca_key, ca_cert = make_ca()
    broker_key, broker_cert = make_leaf(ca_key, ca_cert, "broker", BROKER_HOSTS)
    encrypted = broker_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(key_password.encode()),
    )
    # Java's PEM reader has no SecretKeyFactory for PBES2 (what cryptography writes), so the JVM gets
    # the same key and chain as PKCS#12 with PBES1/3DES, which every JDK reads.
    p12_encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(key_password.encode())
    )
    keystore = pkcs12.serialize_key_and_certificates(b"broker", broker_key, broker_cert, [ca_cert], p12_encryption)
    plain_ca_key = ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(files.ca_key, plain_ca_key)
    write_private(files.ca_cert, _pem(ca_cert))
    write_private(files.broker_key, encrypted)
    write_private(files.broker_cert, _pem(broker_cert) + _pem(ca_cert))
    write_private(files.keystore, keystore)
    return files
