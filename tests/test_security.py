"""Security: the secure profile end to end, settings checked at start, no secret in git.

The secure tests start their own pipeline with ``PIPELINE_SECURITY=secure python manage.py
start-all`` (three brokers with TLS on every listener, SCRAM and ACLs, a private PostgreSQL with
scram-sha-256 and least-privilege roles) in a temporary folder on free ports, once for this module,
and stop it at the module's end: the session cluster stays plaintext, as every other test expects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AclBindingFilter, AdminClient
from cryptography.hazmat.primitives import serialization

from apps.runtime.certs import CertFiles, make_ca
from apps.runtime.checks import free_port
from apps.runtime.kafka_cluster import KafkaNode, node_properties
from apps.runtime.kafka_security import BrokerTls, kafka_password_name
from apps.runtime.local import LocalRuntime
from apps.runtime.roles import db_password_name
from common.settings import (
    PROJECT_ROOT,
    ConsoleSettings,
    DatabaseSettings,
    GeneratorSettings,
    KafkaSettings,
    RuntimeSettings,
    SettingsError,
    load,
)
from database.roles import READER
from kafka.acls import CONSOLE, PRODUCER, Grant, consumer_principal
from kafka.admin.setup_acls import as_grant, binding, current_acls, ensure_acls
from kafka.config import client_config, consumer_config, producer_config
from kafka.producer.bulk import BulkProducer, ProducerIdRefused
from kafka.topics import CONSUMER_GROUPS

SEED_USERS, SEED_PRODUCTS = 200, 300


def _manage(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _env_value(env_file: Path, name: str) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {env_file}")


@pytest.fixture(scope="module")
def secure_env():
    """``PIPELINE_SECURITY=secure manage.py start-all`` in a temporary runtime; ``down`` at the end."""
    base = Path(tempfile.mkdtemp(prefix="pipeline-secure-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root
    ports = {
        "PIPELINE_KAFKA_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_KAFKA_CONTROLLER_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_KAFKA_INTERNAL_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_POSTGRES_PORT": str(free_port()),
        "PIPELINE_CONSOLE_PORT": str(free_port()),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")} | ports
    env |= {
        "PIPELINE_ENV_FILE": str(base / ".env"),  # manage.py creates it with a random owner password
        "PIPELINE_RUNTIME": "local",
        "PIPELINE_SECURITY": "secure",
        "PIPELINE_RUNTIME_DIR": str(base / "runtime"),
        "PIPELINE_KAFKA_LIBS_DIR": str(RuntimeSettings().kafka_libs_dir),
        "PIPELINE_KAFKA_HEAP": "384m",
        "PIPELINE_SEED_USERS": str(SEED_USERS),
        "PIPELINE_SEED_PRODUCTS": str(SEED_PRODUCTS),
    }
    try:
        started = _manage(env, "start-all")
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield env
    finally:
        _manage(env, "down", timeout=300)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def secure(secure_env) -> LocalRuntime:
    """The same runtime, in process: its addresses, secrets and certificates."""
    settings = RuntimeSettings(
        runtime="local",
        security="secure",
        runtime_dir=Path(secure_env["PIPELINE_RUNTIME_DIR"]),
        kafka_ports=json.loads(secure_env["PIPELINE_KAFKA_PORTS"]),
        kafka_controller_ports=json.loads(secure_env["PIPELINE_KAFKA_CONTROLLER_PORTS"]),
        kafka_internal_ports=json.loads(secure_env["PIPELINE_KAFKA_INTERNAL_PORTS"]),
        postgres_port=int(secure_env["PIPELINE_POSTGRES_PORT"]),
    )
    password = _env_value(Path(secure_env["PIPELINE_ENV_FILE"]), "PIPELINE_POSTGRES_PASSWORD")
    return LocalRuntime(settings, DatabaseSettings(database_url=None, postgres_password=password))


def as_role(runtime: LocalRuntime, user: str, password: str | None = None, ca: Path | None = None) -> KafkaSettings:
    """Client settings for ``user`` on the SASL_SSL listener (its real password unless one is given)."""
    return KafkaSettings(
        bootstrap_servers=runtime.cluster.bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password=password or runtime.secrets.password(kafka_password_name(user)),
        ssl_ca_location=ca or runtime.tls.certs.ca_cert,
    )


def _status(env: dict[str, str]) -> dict:
    result = _manage(env, "status", "--json", timeout=120)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"error": result.stdout[-500:] + result.stderr[-500:]}


def test_secure_start_all_streams_and_verifies(secure_env):
    deadline = time.monotonic() + 240
    report: dict = {}
    while time.monotonic() < deadline:
        report = _status(secure_env)
        tables = report.get("tables", {})
        if tables.get("users", 0) >= SEED_USERS and tables.get("products") == SEED_PRODUCTS:
            break
        time.sleep(0.2)  # between status calls: each one takes seconds already
    assert report.get("tables", {}).get("products") == SEED_PRODUCTS, json.dumps(report)[:3000]
    deadline = time.monotonic() + 120  # the realtime generator streams orders, as the producer principal
    while time.monotonic() < deadline and not report.get("tables", {}).get("orders"):
        time.sleep(0.2)
        report = _status(secure_env)
    stop = _manage(secure_env, "stop-producer", timeout=120)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (report := _status(secure_env)).get("total_lag") != 0:
        time.sleep(0.2)
    assert report["total_lag"] == 0 and report["tables"]["orders"] > 0, json.dumps(report)[:3000]
    services = {s["name"]: s["state"] for s in report["services"]}
    assert all(state == "RUNNING" for name, state in services.items() if name not in {"topic-init", "producer"})
    verify = _manage(secure_env, "verify", timeout=300)
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]


# --- refused: each door that must stay shut ---------------------------------------------------------
def _refused(conf: dict) -> list[KafkaError]:
    errors: list[KafkaError] = []
    admin = AdminClient(conf | {"error_cb": errors.append, "socket.timeout.ms": 5000})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    admin.poll(2)  # serves error_cb
    return errors


def test_plaintext_client_is_refused(secure):
    _refused({"bootstrap.servers": secure.cluster.bootstrap_servers})


def test_wrong_password_is_refused(secure):
    settings = as_role(secure, PRODUCER, password="not-" + secure.secrets.password(kafka_password_name(PRODUCER)))
    errors = _refused(client_config(settings))
    assert any(e.code() == KafkaError._AUTHENTICATION or "uthentication" in e.str() for e in errors), errors


def test_client_that_does_not_trust_the_ca_is_refused(secure, tmp_path):
    _key, stranger = make_ca("someone-else")
    (tmp_path / "ca.crt").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    errors = _refused(client_config(as_role(secure, PRODUCER, ca=tmp_path / "ca.crt")))
    assert any(e.code() == KafkaError._SSL or "SSL" in e.str() for e in errors), errors


def _produce_error(settings: KafkaSettings, topic: str) -> KafkaError | None:
    """The error a produce to ``topic`` ends with: its delivery report, or the client's fatal error."""
    producer = Producer(producer_config(settings, "security-test") | {"delivery.timeout.ms": 20000})
    result: list[KafkaError | None] = []
    try:
        for _ in range(6):  # a fatal error (no idempotent producer id) surfaces on a later call
            producer.produce(topic, b"{}", b"k", on_delivery=lambda err, _m: result.append(err))
            producer.flush(5)
            if result:
                return result[0]
    except (KafkaException, SystemError) as exc:  # the fatal error may be raised from inside the delivery callback
        cause = exc if isinstance(exc, KafkaException) else exc.__cause__
        return cause.args[0] if isinstance(cause, KafkaException) else None
    finally:  # closed now, not whenever it is collected: else it keeps reconnecting after the cluster stops
        producer.purge()
        producer.close()
    return KafkaError(KafkaError._MSG_TIMED_OUT)


def _authorization_failed(error: KafkaError | None) -> bool:
    codes = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
    codes |= {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}
    text = error.str().upper().replace(" ", "_") if error is not None else ""
    return error is not None and (error.code() in codes or "AUTHORIZATION_FAILED" in text)


def test_consumer_principal_cannot_produce_to_users(secure):
    for topic in CONSUMER_GROUPS:
        error = _produce_error(as_role(secure, consumer_principal(topic)), "users")
        assert _authorization_failed(error), (topic, error)


def test_console_principal_cannot_write(secure):
    for topic in ("users", "orders-dlq"):
        error = _produce_error(as_role(secure, CONSOLE), topic)
        assert _authorization_failed(error), (topic, error)


def test_refused_producer_id_is_asked_again_then_reported(secure, caplog):
    """Break it on purpose: the console principal may not write, so every id request is refused.

    The seeder meets the same refusal when a broker has not yet applied new ACLs: librdkafka
    raises it from ``poll()``; ``opened`` must take it as a refusal, replace the producer and,
    at its deadline, report it (CI once saw the raw exception end ``start-all`` instead).
    """
    refused = pytest.raises(ProducerIdRefused, match="(?i)authorization")
    with caplog.at_level("WARNING", logger="kafka.producer.bulk"), refused:
        BulkProducer.opened(as_role(secure, CONSOLE), timeout_s=5)
    assert any("asking again" in r.getMessage() for r in caplog.records), caplog.text


def test_producer_principal_cannot_consume(secure):
    consumer = Consumer(consumer_config(as_role(secure, PRODUCER), CONSUMER_GROUPS["users"], "security-test"))
    consumer.subscribe(["users"])
    error = None
    try:
        deadline = time.monotonic() + 30
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None:
                assert message.error() is not None, "the producer principal read a message"
                error = message.error()
    finally:
        consumer.close()
    assert _authorization_failed(error), error


def test_console_principal_reads(secure):
    """The read-only principal can read (the refusals above are not a broken listener)."""
    consumer = Consumer(consumer_config(as_role(secure, CONSOLE), "console-read-test", "security-test"))
    consumer.assign([TopicPartition("products", p, 0) for p in range(3)])
    try:
        message = next(m for _ in range(30) if (m := consumer.poll(1)) is not None and m.error() is None)
        assert message.topic() == "products"
    finally:
        consumer.close()


def _connect(runtime: LocalRuntime, user: str, password: str | None, host: str = "127.0.0.1") -> psycopg.Connection:
    return psycopg.connect(
        host=host, port=runtime.settings.postgres_port, user=user, password=password,
        dbname=runtime.database.postgres_db, connect_timeout=5,
    )  # fmt: skip


def test_wrong_postgres_password_is_refused_on_tcp_and_socket(secure):
    owner = secure.database.postgres_user
    for host in ("127.0.0.1", str(secure.postgres.socket_dir)):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _connect(secure, owner, "not-the-password", host)
        with pytest.raises(psycopg.OperationalError):  # no trust: no password, no connection
            _connect(secure, owner, None, host)
    _connect(secure, owner, secure.postgres.password).close()


def test_console_database_role_reads_but_cannot_write(secure):
    with _connect(secure, READER, secure.secrets.password(db_password_name(READER))) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] >= SEED_USERS
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM users")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE orders SET status = status")


def test_consumer_database_role_writes_only_its_table(secure):
    role = "pipeline_orders_writer"
    with _connect(secure, role, secure.secrets.password(db_password_name(role))) as conn:
        conn.execute("UPDATE orders SET status = status WHERE false")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE users SET name = name WHERE false")


# --- ACLs: created by make topics, drift reported ------------------------------------------------
def binding_filter(grant: Grant) -> AclBindingFilter:
    acl = binding(grant)
    return AclBindingFilter(
        acl.restype, acl.name, acl.resource_pattern_type, acl.principal, acl.host, acl.operation, acl.permission_type
    )


def acls_settle(admin: AdminClient, present: set[Grant], absent: set[Grant], timeout_s: float = 20) -> None:
    """Until three answers in a row hold ``present`` and none of ``absent``.

    An ACL change reaches each broker through the metadata log, and ``describe_acls`` asks any
    of them: read at once, a broker still behind answered with an ACL just deleted (a CI flake).
    """
    deadline, in_a_row = time.monotonic() + timeout_s, 0
    while in_a_row < 3:
        held = {as_grant(acl) for acl in current_acls(admin)}
        in_a_row = in_a_row + 1 if present <= held and not absent & held else 0
        assert time.monotonic() < deadline, f"ACLs did not settle: want {present}, not {absent}"
        time.sleep(0.1)


def test_acl_drift_is_reported_and_missing_grants_are_restored(secure):
    admin = AdminClient(secure.cluster.admin_config())
    extra = Grant(PRODUCER, "topic", "users", "READ")
    wanted = Grant(CONSOLE, "topic", "*", "DESCRIBE_CONFIGS")
    admin.create_acls([binding(extra)])[binding(extra)].result()
    admin.delete_acls([binding_filter(wanted)])[binding_filter(wanted)].result()
    try:
        acls_settle(admin, present={extra}, absent={wanted})
        report = ensure_acls(admin)
        assert str(wanted) in report.created
        assert any("User:producer READ topic:users" in line for line in report.drift), report.drift
    finally:
        admin.delete_acls([binding_filter(extra)])[binding_filter(extra)].result()
    acls_settle(admin, present={wanted}, absent={extra})
    assert ensure_acls(admin).drift == [] and ensure_acls(admin).created == []


# --- secrets: generated, private, never on a command line or in a log --------------------------------
def _secrets(runtime: LocalRuntime) -> list[str]:
    """Every password of the secrets folder, and the body lines of every private key in it."""
    values = runtime.secrets.values()
    for path in runtime.settings.secrets_dir.glob("*.key"):
        values += [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
    values.append(runtime.postgres.password)
    return [v for v in values if len(v) >= 16]


def test_no_secret_on_a_command_line_or_in_a_log(secure):
    secrets = _secrets(secure)
    assert len(secrets) >= 10
    leaks = []
    for process in psutil.process_iter(["pid", "cmdline", "name"]):
        line = " ".join(process.info["cmdline"] or [])
        leaks += [f"ps {process.info['pid']} {process.info['name']}" for s in secrets if s in line]
    for folder in (secure.settings.runtime_dir / "logs", secure.settings.runtime_dir / "supervisor"):
        for path in folder.rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                leaks += [f"log {path}" for s in secrets if s in text]
    assert not leaks, sorted(set(leaks))


def test_every_service_has_the_rights_it_needs(secure):
    """Least privilege, not too little: no service's log shows a refused Kafka or database request."""
    refused = re.compile(r"AUTHORIZATION_FAILED|[Aa]uthorization failed|permission denied|SASL authentication error")
    found = []
    for path in (secure.settings.runtime_dir / "logs").glob("*.log"):
        if not path.name.startswith(("kafka-", "postgres")) or path.name.startswith("kafka-ui"):
            found += [f"{path.name}: {line[:200]}" for line in path.read_text(errors="replace").splitlines()
                      if refused.search(line)]  # fmt: skip
    assert not found, "\n".join(found[:20])


def test_secrets_are_private_files(secure):
    folder = secure.settings.secrets_dir
    assert folder.stat().st_mode & 0o777 == 0o700
    files = [p for p in folder.iterdir() if p.is_file()]
    assert len(files) >= 12
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files), [(p.name, oct(p.stat().st_mode)) for p in files]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".runtime/secrets/ca.key"], cwd=PROJECT_ROOT, check=False)
    assert ignored.returncode == 0
    hba = (secure.postgres.data_dir / "pg_hba.conf").read_text()
    assert "trust" not in hba and hba.count("scram-sha-256") == 3


def test_secure_profile_is_opt_in():
    plain = node_properties(KafkaNode(1, 19092, 29092, Path("/x")), "v")
    assert "SASL" not in plain and "SSL" not in plain and "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER" in plain
    tls = BrokerTls(CertFiles(Path("/s")), "pw")
    secured = node_properties(KafkaNode(1, 19092, 29092, Path("/x"), 39092), "v", tls)
    assert "PLAINTEXT" not in secured
    assert "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL" in secured
    assert "sasl.enabled.mechanisms=SCRAM-SHA-512" in secured and "allow.everyone.if.no.acl.found=false" in secured
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in secured
    assert RuntimeSettings().security == "plaintext"
    with pytest.raises(SettingsError, match="PIPELINE_SECURITY"):
        load(RuntimeSettings, security="tls-please")


# --- settings are validated at start: one clear line naming the setting ---------------------------
@pytest.mark.parametrize(
    ("cls", "overrides", "name"),
    [
        (KafkaSettings, {"bootstrap_servers": "kafka-without-port"}, "PIPELINE_KAFKA_BOOTSTRAP_SERVERS"),
        (KafkaSettings, {"bootstrap_servers": "127.0.0.1:99999"}, "PIPELINE_KAFKA_BOOTSTRAP_SERVERS"),
        (DatabaseSettings, {"postgres_port": 0}, "PIPELINE_POSTGRES_PORT"),
        (ConsoleSettings, {"port": 70000}, "PIPELINE_CONSOLE_PORT"),
        (RuntimeSettings, {"kafka_ports": (19092, 19092, 19093)}, "PIPELINE_KAFKA_PORTS"),
        (GeneratorSettings, {"realtime_rate": -5}, "PIPELINE_REALTIME_RATE"),
    ],
)
def test_invalid_setting_is_one_line(cls, overrides, name):
    with pytest.raises(SettingsError) as caught:
        load(cls, **overrides)
    message = str(caught.value)
    assert message.count("\n") == 0 and message.startswith(f"invalid setting {name}: "), message


def _start(module: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("module", "args", "env", "name"),
    [
        ("apps.verify", (), {"PIPELINE_KAFKA_BOOTSTRAP_SERVERS": "no-port"}, "PIPELINE_KAFKA_BOOTSTRAP_SERVERS"),
        ("apps.pipeline.produce", (), {"PIPELINE_REALTIME_RATE": "-3"}, "PIPELINE_REALTIME_RATE"),
        ("apps.pipeline.dlq_replay", ("--topic", "nope"), {}, "--topic"),
    ],
)
def test_bad_setting_at_start_is_one_line_not_a_traceback(module, args, env, name):
    result = _start(module, *args, **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if name in line]
    assert len(lines) == 1, result.stderr


# --- no secret in the repository --------------------------------------------------------------------
SECRET_ASSIGNMENT = re.compile(
    r"""(?i)(passw(or)?d|secret|token|api[_-]?key)\w*["']?\s*[:=]\s*[rbf]?["']([^"'\s{}$]{8,})["']"""
)
URL_CREDENTIALS = re.compile(r"""[a-z+]+://[^:/\s"'@]+:([^@\s"'{}$]{8,})@""")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}")
PLACEHOLDERS = {"password", "changeme", "<password>"}


def _repository_files() -> list[Path]:
    """Tracked files and new ones not ignored: what a commit could carry."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [PROJECT_ROOT / name for name in listed if (PROJECT_ROOT / name).is_file()]


def test_no_secret_literal_in_the_repository():
    found = []
    for path in _repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            values = [m.group(3) for m in SECRET_ASSIGNMENT.finditer(line)]
            values += [m.group(1) for m in URL_CREDENTIALS.finditer(line)]
            if any(v.lower() not in PLACEHOLDERS for v in values) or PRIVATE_KEY.search(line):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_env_is_ignored_and_the_example_leaves_secrets_empty():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=PROJECT_ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.lstrip("# ").partition("=")
        if sep and re.search(r"PASSWORD|TOKEN|SECRET", name) and "://" not in value:
            assert value.split("#")[0].strip() == "", f".env.example must leave {name} empty"
