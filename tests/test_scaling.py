"""Scale by configuration, external services and a fresh machine's prerequisites, without a cluster.

The same code paths run against real services in tests/test_scale_out.py; here the parts that
decide (settings, service catalogue, compose override, external detection, apt fallback, idle
members) are checked on their own, each with the case that must make it fire.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from apps.runtime import docker, prerequisites
from apps.runtime import services as svc
from apps.runtime.errors import RuntimeProblem
from apps.runtime.external import external_bootstrap
from apps.runtime.local import LocalRuntime
from apps.status import idle_members, print_status
from common.settings import DatabaseSettings, KafkaSettings, RuntimeSettings, ScaleSettings, SettingsError, load
from kafka.topics import ALL_TOPICS, DLQ_TOPICS, pipeline_topics
from tests.test_compose import COMPOSE_FILE, _schema_errors

LOCAL_PORTS = (39092, 39093, 39094)


def _runtime(tmp_path: Path, instances: int = 3, kafka: KafkaSettings | None = None, db_url: str | None = None):
    settings = RuntimeSettings(runtime="local", runtime_dir=tmp_path, kafka_ports=LOCAL_PORTS)
    database = DatabaseSettings(database_url=db_url, postgres_password="x")
    return LocalRuntime(settings, database, scale=ScaleSettings(consumer_instances=instances), kafka=kafka)


def test_scale_settings_default_to_three_and_name_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_TOPIC_PARTITIONS", raising=False)
    monkeypatch.delenv("PIPELINE_CONSUMER_INSTANCES", raising=False)
    assert (ScaleSettings().topic_partitions, ScaleSettings().consumer_instances) == (3, 3)
    monkeypatch.setenv("PIPELINE_TOPIC_PARTITIONS", "12")
    assert load(ScaleSettings).topic_partitions == 12
    monkeypatch.setenv("PIPELINE_CONSUMER_INSTANCES", "0")
    with pytest.raises(SettingsError, match="invalid setting PIPELINE_CONSUMER_INSTANCES"):
        load(ScaleSettings)


def test_partitions_setting_applies_to_entity_topics_not_dead_letters() -> None:
    assert pipeline_topics() == ALL_TOPICS
    six = {spec.name: spec for spec in pipeline_topics(6)}
    assert [six[n].partitions for n in ("users", "products", "orders")] == [6, 6, 6]
    assert all(six[d.name] == d for d in DLQ_TOPICS)
    assert six["orders"].config == {s.name: s for s in ALL_TOPICS}["orders"].config


def test_supervisord_programs_follow_the_instance_setting(tmp_path: Path) -> None:
    default = [p.name for p in _runtime(tmp_path).programs()]
    assert default == svc.all_service_names(include_dev=False)  # the 16 + python-dev = 17 services
    six = _runtime(tmp_path, instances=6).names("consumers")
    assert len(six) == 18 and "order-consumer-6" in six and "user-consumer-4" in six
    one = _runtime(tmp_path, instances=1).names("consumers")
    assert one == ["user-consumer-1", "product-consumer-1", "order-consumer-1"]


def test_more_members_restart_none_of_the_running_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """supervisord restarts a program whose section changed: going from six to seven changes none of the six."""
    monkeypatch.setenv("PIPELINE_METRICS_BASE_PORT", "9400")  # ports on: what used to move them

    def sections(instances: int) -> dict[str, str]:
        return {p.name: p.render(tmp_path, tmp_path) for p in _runtime(tmp_path, instances).programs()}

    six, seven = sections(6), sections(7)
    assert set(seven) - set(six) == {"user-consumer-7", "product-consumer-7", "order-consumer-7"}
    assert {name: seven[name] for name in six} == six
    assert "PIPELINE_METRICS_PORT" in six["order-consumer-6"]
    assert svc.metrics_ports(9400)["order-consumer-3"] == 9409  # the default nine still end at 9409


def test_compose_gets_an_override_only_beyond_three_instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert docker.scale_override(3) is None and docker.scale_override(1) is None
    override = docker.scale_override(6)
    assert _schema_errors(override) == []
    base = yaml.safe_load(COMPOSE_FILE.read_text())
    merged = copy.deepcopy(base)
    for name, service in override["services"].items():  # what `extends` does
        parent = copy.deepcopy(base["services"][service["extends"]["service"]])
        merged["services"][name] = parent | {k: v for k, v in service.items() if k != "extends"}
    assert _schema_errors(merged) == []
    expected = {s.name: ["python", "-m", s.module, *s.args] for s in svc.consumer_services(6)}
    consumers = {n: s["command"] for n, s in merged["services"].items() if "-consumer-" in n}
    assert consumers == expected and len(merged["services"]) == 17 + 9

    monkeypatch.setattr(docker, "SCALE_FILE", tmp_path / "scale.json")
    assert docker.DockerRuntime(ScaleSettings(consumer_instances=4)).groups["consumers"][-1] == "order-consumer-4"
    assert json.loads(docker.SCALE_FILE.read_text()) == docker.scale_override(4)
    docker.DockerRuntime(ScaleSettings())
    assert not docker.SCALE_FILE.exists(), "back at three instances the override must go"


def test_external_kafka_and_database_start_no_broker_or_postgres(tmp_path: Path) -> None:
    external = KafkaSettings(bootstrap_servers="kafka-a.internal:9092,kafka-b.internal:9092")
    runtime = _runtime(tmp_path, kafka=external, db_url="postgresql://u:p@db.internal:5432/pipeline")
    names = [p.name for p in runtime.programs()]
    assert not set(names) & {*svc.KAFKA_SERVICES, *svc.DATABASE_SERVICES}
    assert set(names) == {s.name for s in svc.python_services()}
    env = runtime.child_env()
    assert env["PIPELINE_KAFKA_BOOTSTRAP_SERVERS"] == external.bootstrap_servers
    assert env["PIPELINE_DATABASE_URL"].startswith("postgresql+psycopg://u:p@db.internal:5432/")


def test_kafka_counts_as_external_only_when_set_and_not_the_local_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINE_KAFKA_BOOTSTRAP_SERVERS", raising=False)  # the test session's cluster sets it
    local = ",".join(f"127.0.0.1:{p}" for p in LOCAL_PORTS)
    assert external_bootstrap(None, local) is None
    assert external_bootstrap(KafkaSettings(), local) is None  # the default, not set by anyone
    assert external_bootstrap(KafkaSettings(bootstrap_servers=local), local) is None
    assert external_bootstrap(KafkaSettings(bootstrap_servers=f"localhost:{LOCAL_PORTS[1]}"), local) is None
    assert external_bootstrap(KafkaSettings(bootstrap_servers="10.1.1.1:9092"), local) == "10.1.1.1:9092"
    runtime = _runtime(tmp_path, kafka=KafkaSettings(bootstrap_servers=local))
    assert {"kafka-1", "postgres"} <= {p.name for p in runtime.programs()}


def test_the_local_postgres_url_is_not_external(tmp_path: Path) -> None:
    """manage.py hands the runtime's own URL to the benchmarks and chaos it starts: still ours to stop."""
    parent = _runtime(tmp_path)
    child = _runtime(tmp_path, db_url=parent.child_env()["PIPELINE_DATABASE_URL"])
    assert not child.external_db and child.names("database") == ["postgres"]
    assert child.database_url == parent.database_url
    port = RuntimeSettings().postgres_port
    assert not _runtime(tmp_path, db_url=f"postgresql://u:p@localhost:{port}/p").external_db
    assert _runtime(tmp_path, db_url=f"postgresql://u:p@localhost:{port + 1}/p").external_db  # another server


def test_starting_a_group_with_nothing_running_says_make_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeProblem, match="'make up' first"):
        _runtime(tmp_path).start_group("consumers")


def test_missing_tools_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn

    def no_postgres() -> Path:
        raise RuntimeProblem("no initdb")

    monkeypatch.setattr(prerequisites, "find_bindir", no_postgres)
    assert prerequisites.missing(kafka=True, maven=True, postgres=True) == ["java", "maven", "postgresql"]
    assert prerequisites.missing(kafka=True, maven=False, postgres=False) == ["java"]
    assert prerequisites.missing(kafka=False, maven=True, postgres=False) == []  # external Kafka: no JVM needed


def test_not_root_gets_the_one_command_to_run() -> None:
    with pytest.raises(RuntimeProblem) as problem:
        prerequisites.ensure(["java", "maven", "postgresql"], is_root=False)
    message = str(problem.value)
    assert "'sudo apt-get install -y --no-install-recommends " in message
    assert "maven postgresql'" in message and "jre-headless" in message
    assert prerequisites.ensure([], is_root=False) == []


def test_root_installs_with_apt_get(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(prerequisites, "_apt_knows", lambda package: package == "default-jre-headless")
    installed = prerequisites.ensure(["java", "postgresql"], is_root=True, run=lambda cmd, **kw: calls.append(cmd))
    assert installed == ["default-jre-headless", "postgresql"]  # no openjdk-17 in this release: the default JRE
    assert calls[0] == ["apt-get", "update", "-qq"]
    assert calls[1][:2] == ["apt-get", "install"] and calls[1][-2:] == installed


def test_idle_members_are_listed_not_hidden() -> None:
    members = {"order-consumer-1": ["orders[0]", "orders[1]"], "order-consumer-2": ["orders[2]"]}
    members["order-consumer-3"] = []
    assert idle_members(members) == ["order-consumer-3"]
    group = {"members": members, "idle": idle_members(members), "total_lag": 0}
    group["partitions"] = [{"partition": p} for p in range(3)]
    report = {"brokers": [], "topics": {}, "consumer_groups": {"order-consumer-group": group}, "tables": {}}
    report["dead_letters"] = {}
    console = Console(record=True, width=200)
    print_status(report, console)
    text = console.export_text()
    assert "order-consumer-group: 1 idle member(s)" in text and text.rstrip().endswith("order-consumer-3")


def test_consumer_instance_auto_takes_the_pod_name_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.pipeline import consume as consumer_runner

    monkeypatch.setattr(consumer_runner.socket, "gethostname", lambda: "order-consumer-6d9f8c7b5-x7k2p")
    assert consumer_runner.parse_args(["--group", "orders", "--instance", "auto"]).instance == "x7k2p"
    assert consumer_runner.parse_args(["--group", "orders", "--instance", "4"]).instance == "4"
    with pytest.raises(SystemExit):
        consumer_runner.parse_args(["--group", "orders", "--instance", "-1"])
