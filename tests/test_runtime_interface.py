"""The runtime interface: settings are built from the runtime and passed in, never through os.environ."""

from __future__ import annotations

import os
from pathlib import Path

from apps.runtime.docker import DockerRuntime
from apps.runtime.interface import child_environment, is_local, settings_for
from apps.runtime.local import LocalRuntime
from common.settings import KafkaSettings

ROLE_FILE = Path("/secrets") / "kafka-producer.password"  # a path, as the secure profile passes it
SECURE_ROLE_ENV = {
    "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "PIPELINE_KAFKA_CLIENT_ID": "from-runtime",
    "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "PIPELINE_KAFKA_SASL_USERNAME": "producer",
    "PIPELINE_KAFKA_SASL_PASSWORD_FILE": str(ROLE_FILE),
    "PYTHONUNBUFFERED": "1",
}


class FakeLocal:
    """A runtime whose processes of any role get ``SECURE_ROLE_ENV``."""

    kind = "local"

    def child_env(self, role: object = None) -> dict[str, str]:
        return dict(SECURE_ROLE_ENV)


def test_settings_come_from_the_runtime_and_explicit_variables_win(monkeypatch):
    monkeypatch.delenv("PIPELINE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("PIPELINE_KAFKA_CLIENT_ID", "explicit")
    before = dict(os.environ)
    settings = settings_for(KafkaSettings, FakeLocal())
    assert isinstance(settings, KafkaSettings)
    assert settings.bootstrap_servers == "127.0.0.1:29092" and settings.client_id == "explicit"
    assert (settings.security_protocol, settings.sasl_username) == ("SASL_SSL", "producer")
    assert settings.sasl_password_file == ROLE_FILE
    assert dict(os.environ) == before  # nothing exported


def test_child_environment_is_explicit_and_keeps_the_callers_variables(monkeypatch):
    monkeypatch.setenv("PIPELINE_KAFKA_CLIENT_ID", "explicit")
    env = child_environment(FakeLocal())
    assert env["PIPELINE_KAFKA_SASL_USERNAME"] == "producer" and env["PIPELINE_KAFKA_CLIENT_ID"] == "explicit"
    assert "PIPELINE_KAFKA_SASL_USERNAME" not in os.environ


def test_runtimes_say_what_they_are():
    assert LocalRuntime.kind == "local" and is_local(FakeLocal())  # type: ignore[arg-type]
    docker = DockerRuntime()
    assert docker.kind == "docker" and not is_local(docker)
    assert docker.services() == [] and docker.child_env() == {}
