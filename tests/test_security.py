"""Security: SCRAM on the local cluster's opt-in listener, settings checked at start, no secret in git.

The SASL tests start a second, small runtime (three brokers, 256 MB heaps, the session's
PostgreSQL as an external database) with ``kafka_sasl_ports`` set: the session cluster stays
plaintext, as every other test expects.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from apps.runtime.checks import free_port
from apps.runtime.kafka_cluster import KafkaNode, node_properties
from apps.runtime.local import LocalRuntime
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
from kafka.config import client_config, consumer_config, producer_config


@pytest.fixture(scope="module")
def sasl_runtime(database_url):
    base = Path(tempfile.mkdtemp(prefix="pipeline-sasl-"))
    settings = RuntimeSettings(
        runtime="local",
        runtime_dir=base,
        kafka_ports=(free_port(), free_port(), free_port()),
        kafka_controller_ports=(free_port(), free_port(), free_port()),
        kafka_sasl_ports=(free_port(), free_port(), free_port()),
        kafka_sasl_password=secrets.token_urlsafe(18),
        kafka_heap="256m",
    )
    runtime = LocalRuntime(settings, DatabaseSettings(database_url=database_url))
    try:
        runtime.up()
        yield runtime
    finally:
        runtime.down()
        shutil.rmtree(base, ignore_errors=True)


def sasl_settings(runtime: LocalRuntime, password: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=runtime.cluster.sasl_bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=runtime.settings.kafka_sasl_username,
        sasl_password=password,
    )


def test_right_credentials_produce_and_consume(sasl_runtime):
    settings = sasl_settings(sasl_runtime, sasl_runtime.settings.kafka_sasl_password.get_secret_value())
    producer = Producer(producer_config(settings, "sasl-test"))
    errors = []
    producer.produce("users", b"hello", b"k", on_delivery=lambda err, _m: err and errors.append(err))
    assert producer.flush(30) == 0 and not errors
    consumer = Consumer(consumer_config(settings, "sasl-test-group"))
    consumer.subscribe(["users"])
    try:
        message = next(m for _ in range(30) if (m := consumer.poll(2)) is not None and m.error() is None)
        assert message.value() == b"hello"
    finally:
        consumer.close()


def test_wrong_password_is_refused(sasl_runtime):
    right = sasl_runtime.settings.kafka_sasl_password.get_secret_value()
    errors: list[KafkaError] = []
    conf = client_config(sasl_settings(sasl_runtime, "not-" + right)) | {"error_cb": errors.append}
    admin = AdminClient(conf)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    admin.poll(2)  # serves error_cb
    assert any(e.code() == KafkaError._AUTHENTICATION or "uthentication" in e.str() for e in errors), errors


def test_plaintext_client_cannot_use_the_secured_listener(sasl_runtime):
    conf = {"bootstrap.servers": sasl_runtime.cluster.sasl_bootstrap_servers, "socket.timeout.ms": 5000}
    with pytest.raises(KafkaException):
        AdminClient(conf).list_topics(timeout=8)


def test_listener_is_opt_in():
    plain = node_properties(KafkaNode(1, 19092, 29092, Path("/x")), "v")
    assert "SASL" not in plain and "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER" in plain
    secured = node_properties(KafkaNode(1, 19092, 29092, Path("/x"), 19192), "v")
    assert "SASL_PLAINTEXT://127.0.0.1:19192" in secured and "sasl.enabled.mechanisms=SCRAM-SHA-512" in secured
    with pytest.raises(SettingsError, match="PIPELINE_KAFKA_SASL_PASSWORD"):
        load(RuntimeSettings, kafka_sasl_ports=(1, 2, 3), kafka_sasl_password=None)


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
        ("apps.seeders.realtime_generator", (), {"PIPELINE_REALTIME_RATE": "-3"}, "PIPELINE_REALTIME_RATE"),
        ("apps.dlq_replay", ("--topic", "nope"), {}, "--topic"),
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
