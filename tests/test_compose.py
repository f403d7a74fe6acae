"""deploy/docker-compose.yml: valid, the same 17 services as the local runtime, no secret, right order.

There is no Docker engine on our machines, so the file is checked against the Compose
Specification's JSON schema (tests/data, see its NOTICE) and against the project's own
definitions (service catalogue, broker config); `docker compose config` runs where the plugin exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from apps.runtime import services as svc
from apps.runtime.kafka_cluster import KafkaNode, node_properties
from common.settings import PROJECT_ROOT, RuntimeSettings

COMPOSE_FILE = PROJECT_ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
SCHEMA_FILE = Path(__file__).parent / "data" / "compose-spec.json"

EXPECTED_SERVICES = {
    "kafka-1", "kafka-2", "kafka-3", "postgres", "kafka-ui", "topic-init", "producer",
    "user-consumer-1", "user-consumer-2", "user-consumer-3",
    "product-consumer-1", "product-consumer-2", "product-consumer-3",
    "order-consumer-1", "order-consumer-2", "order-consumer-3",
    "python-dev",
}  # fmt: skip
INFRA = {"kafka-1", "kafka-2", "kafka-3", "postgres"}
SECRET_WORDS = re.compile(r"pass(word)?|secret|token|api_?key|credential", re.IGNORECASE)
REQUIRED_REF = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]+\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # safe_load resolves the << merge keys


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec["condition"] for name, spec in deps.items()}


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def _schema_errors(document: dict) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())  # declares draft 2019-09 (under an old URI)
    jsonschema.Draft201909Validator.check_schema(schema)
    errors = jsonschema.Draft201909Validator(schema).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_validates_against_compose_spec_schema(compose: dict) -> None:
    assert _schema_errors(compose) == []


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("producer", "restart_policy", "always"),  # not a Compose key
        ("producer", "depends_on", {"topic-init": {"condition": "service_done"}}),
        ("postgres", "healthcheck", {"test": ["CMD", "true"], "intervall": "5s"}),
    ],
)
def test_schema_catches_mistakes(compose: dict, service: str, key: str, value: object) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"][service][key] = value
    assert _schema_errors(broken)


def test_exactly_the_17_services(services: dict) -> None:
    assert set(services) == EXPECTED_SERVICES
    assert len(services) == 17


def test_same_services_as_the_local_runtime(services: dict) -> None:
    local = set(svc.all_service_names(include_dev=False))
    assert set(services) - set(svc.DEV_ONLY_SERVICES) == local
    assert set(svc.all_service_names()) == set(services)
    for name in svc.DEV_ONLY_SERVICES:
        assert services[name]["profiles"] == ["dev"], f"{name} must only start with --profile dev"


def test_commands_match_the_service_catalogue(services: dict) -> None:
    for spec in svc.python_services():
        expected = " ".join(["python", "-m", spec.module, *spec.args])
        command = _command(services[spec.name])
        assert command == expected or command.endswith(f"exec {expected}"), f"{spec.name}: {command!r}"


def test_every_python_service_uses_the_one_image(services: dict) -> None:
    python = {name: s for name, s in services.items() if name not in INFRA}
    assert {json.dumps([s.get("image"), s.get("build")], sort_keys=True) for s in python.values()} == {
        json.dumps(["ecommerce-pipeline:latest", {"context": "..", "dockerfile": "deploy/Dockerfile"}])
    }
    assert (COMPOSE_FILE.parent / python["producer"]["build"]["context"] / "deploy" / "Dockerfile").is_file()
    for name in INFRA:
        assert "build" not in services[name], f"{name} uses an upstream image"


def test_dockerfile_is_slim_non_root_and_pyproject_driven() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "COPY pyproject.toml" in text and "requirements.txt" not in os.listdir(DOCKERFILE.parent)
    ignored = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".runtime" in ignored


def test_python_dev_can_run_make_test_without_reinstalling() -> None:
    """The image's virtualenv and stamp are the ones the Makefile's bootstrap target checks."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^VENV := \.venv$", makefile, re.MULTILINE)
    assert "STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)" in makefile
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^WORKDIR /app$", dockerfile, re.MULTILINE) and "VIRTUAL_ENV=/app/.venv" in dockerfile
    assert 'touch "$VIRTUAL_ENV/.installed-$(md5sum < pyproject.toml | cut -c1-12)"' in dockerfile


def test_no_hard_coded_secret(compose: dict, services: dict) -> None:
    for name, service in services.items():
        for key, value in _env(service).items():
            if SECRET_WORDS.search(key):
                assert REQUIRED_REF.match(value), f"{name}: {key} must be a ${{VAR:?error}} reference, not {value!r}"
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", text), "a URL with an embedded password"


def test_password_is_required_from_env(services: dict) -> None:
    assert _env(services["postgres"])["POSTGRES_PASSWORD"].startswith("${PIPELINE_POSTGRES_PASSWORD:?")
    for name, service in services.items():
        if name not in INFRA:
            assert _env(service)["PIPELINE_POSTGRES_PASSWORD"].startswith("${PIPELINE_POSTGRES_PASSWORD:?")


def test_start_order(services: dict) -> None:
    brokers = {f"kafka-{i}": "service_healthy" for i in (1, 2, 3)}
    for name in INFRA:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} needs a healthcheck"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert _depends(services["topic-init"]) == brokers | {"postgres": "service_healthy"}
    after_init = [s.name for s in svc.consumer_services()] + [svc.PRODUCER.name]
    for name in after_init:
        assert _depends(services[name]).get("topic-init") == "service_completed_successfully", name
    assert brokers.items() <= _depends(services["kafka-ui"]).items()
    assert _topological_order(services)  # no cycle


def _topological_order(services: dict) -> list[str]:
    order: list[str] = []
    pending = {name: set(_depends(s)) for name, s in services.items()}
    while pending:
        ready = sorted(n for n, deps in pending.items() if deps <= set(order))
        assert ready, f"dependency cycle among {sorted(pending)}"
        order += ready
        for n in ready:
            del pending[n]
    return order


def test_restart_policies(services: dict) -> None:
    for name, service in services.items():
        oneshot = name == svc.TOPIC_INIT.name or name in svc.DEV_ONLY_SERVICES
        assert service.get("restart") == ("no" if oneshot else "unless-stopped"), name


def test_named_volumes_for_state(compose: dict, services: dict) -> None:
    mounts = {"kafka-1": "/var/lib/kafka/data", "postgres": "/var/lib/postgresql/data"}
    mounts |= {"kafka-2": "/var/lib/kafka/data", "kafka-3": "/var/lib/kafka/data"}
    for name, target in mounts.items():
        (volume,) = [v for v in services[name]["volumes"] if v.endswith(f":{target}")]
        assert volume.split(":")[0] in compose["volumes"], f"{name}: {volume} is not a named volume"


def test_ports_published_on_loopback_only(services: dict) -> None:
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) == {"kafka-1", "kafka-2", "kafka-3", "postgres", "kafka-ui"}
    for name, ports in published.items():
        assert all(str(p).startswith("127.0.0.1:") for p in ports), f"{name}: {ports}"
    assert published["kafka-ui"] == ["127.0.0.1:${PIPELINE_CONSOLE_PORT:-8080}:8080"]
    assert published["postgres"] == ["127.0.0.1:${PIPELINE_POSTGRES_PORT:-15432}:5432"]
    assert _env(services["kafka-ui"])["PIPELINE_CONSOLE_HOST"] == "0.0.0.0"


def test_brokers_mirror_the_local_config(services: dict) -> None:
    """Same server.properties as node_properties(), apart from addresses and paths."""
    fields = RuntimeSettings.model_fields
    host_ports = fields["kafka_ports"].default
    per_host = {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}
    per_host |= {"inter.broker.listener.name", "listener.security.protocol.map"}  # extra listener
    for node_id, port in enumerate(host_ports, start=1):
        env = _env(services[f"kafka-{node_id}"])
        local = dict(
            line.split("=", 1)
            for line in node_properties(KafkaNode(node_id, port, 29092, Path("/x")), "v").splitlines()
        )
        props = {
            k.removeprefix("KAFKA_").lower().replace("_", "."): v for k, v in env.items() if k.startswith("KAFKA_")
        }
        assert {k: v for k, v in local.items() if k not in per_host}.items() <= props.items()
        assert props["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert f"EXTERNAL://127.0.0.1:{port}" in props["advertised.listeners"]
        assert services[f"kafka-{node_id}"]["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert env["CLUSTER_ID"] == f"${{PIPELINE_KAFKA_CLUSTER_ID:-{fields['kafka_cluster_id'].default}}}"
        assert services[f"kafka-{node_id}"]["image"] == f"apache/kafka:{fields['kafka_version'].default}"


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _docker_compose_available(), reason="the docker compose plugin is not installed")
def test_docker_compose_config(tmp_path: Path) -> None:
    if not (PROJECT_ROOT / ".env").exists():  # env_file: ../.env must exist for compose to load the file
        pytest.skip(".env is missing (make or ./dc.sh creates it)")
    env_file = tmp_path / "test.env"
    env_file.write_text("PIPELINE_POSTGRES_PASSWORD=not-a-real-secret\n")
    base = ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE)]
    result = subprocess.run([*base, "--profile", "dev", "config", "--services"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == EXPECTED_SERVICES
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_POSTGRES_PASSWORD"}
    missing = subprocess.run([*base[:2], "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True, env=env)
    assert missing.returncode != 0 and "PIPELINE_POSTGRES_PASSWORD" in missing.stderr


# --- the secure profile: deploy/docker-compose.secure.yml, added by dc.sh when PIPELINE_SECURITY=secure ----
SECURE_FILE = PROJECT_ROOT / "deploy" / "docker-compose.secure.yml"


@pytest.fixture(scope="module")
def secure() -> dict:
    return yaml.safe_load(SECURE_FILE.read_text())


def _merge(base: object, overlay: object) -> object:
    """Compose's merge, as far as these files need it: maps merge, lists append."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        return {k: _merge(base[k], overlay[k]) if k in base and k in overlay else overlay.get(k, base.get(k))
                for k in {**base, **overlay}}  # fmt: skip
    if isinstance(base, list) and isinstance(overlay, list):
        return base + [item for item in overlay if item not in base]
    return overlay


def test_secure_profile_validates_alone_and_merged(compose: dict, secure: dict) -> None:
    assert _schema_errors(secure) == []
    merged = _merge(compose, secure)
    assert _schema_errors(merged) == []
    assert set(merged["services"]) == EXPECTED_SERVICES | {"secrets-init"}


def test_dc_sh_adds_the_secure_profile_from_the_setting() -> None:
    script = (PROJECT_ROOT / "dc.sh").read_text()
    assert (
        "PIPELINE_SECURITY" in script
        and '[ "$security" = secure ] && files+=(-f deploy/docker-compose.secure.yml)' in script
    )


def test_secure_brokers_have_no_plaintext_listener_and_mirror_the_local_config(compose: dict, secure: dict) -> None:
    from apps.runtime.certs import CertFiles
    from apps.runtime.kafka_security import BrokerTls

    local = dict(line.split("=", 1) for line in BrokerTls(CertFiles(Path("/s")), "pw").properties().splitlines())
    per_file = {"ssl.keystore.location", "ssl.keystore.password", "ssl.key.password", "ssl.truststore.location"}
    for node_id in (1, 2, 3):
        service = _merge(compose["services"][f"kafka-{node_id}"], secure["services"][f"kafka-{node_id}"])
        env = _env(service)
        props = {  # as the broker sees them: compose turns $$ into $
            k.removeprefix("KAFKA_").lower().replace("___", "-").replace("_", "."): v.replace("$$", "$")
            for k, v in env.items()
        }
        assert {
            k: v for k, v in local.items() if k not in per_file and "listener.name" not in k
        }.items() <= props.items()
        protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
        assert set(protocols.values()) <= {"SSL", "SASL_SSL"}
        listeners = [entry.split("://")[0] for entry in props["listeners"].split(",")]
        assert all(protocols[name] in {"SSL", "SASL_SSL"} for name in listeners)
        assert props["listener.name.internal.ssl.client.auth"] == "required"
        assert props["ssl.keystore.password"].startswith("${file:/etc/kafka/secrets/")  # read from a file
        assert _depends(service)["secrets-init"] == "service_completed_successfully"
    assert secure["services"]["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"


def test_secure_python_services_run_as_their_roles_principal(secure: dict) -> None:
    from apps.runtime.roles import service_roles

    for name, role in service_roles().items():
        env = _env(secure["services"][name])
        assert env["PIPELINE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["PIPELINE_SECURITY"] == "secure"
        assert env["PIPELINE_KAFKA_SASL_USERNAME"] == role.kafka_user, name
        assert env["PIPELINE_KAFKA_SASL_PASSWORD_FILE"] == f"/secrets/kafka-{role.kafka_user}.password", name
        if role.db_role is not None:
            assert env["PIPELINE_POSTGRES_USER"] == role.db_role, name
            assert env["PIPELINE_POSTGRES_PASSWORD_FILE"] == f"/secrets/postgres-{role.db_role}.password", name
    init = _command(secure["services"]["topic-init"])
    assert "apps.runtime.secure_init setup" in init and init.endswith("exec python -m apps.pipeline.topics")


def test_secure_profile_has_no_secret(secure: dict) -> None:
    for name, service in secure["services"].items():
        for key, value in _env(service).items():
            if SECRET_WORDS.search(key):
                assert value.startswith(("$${file:", "/secrets/")) or REQUIRED_REF.match(value), f"{name}: {key}"
