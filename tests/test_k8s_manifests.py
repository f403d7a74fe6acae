"""deploy/k8s: every manifest, in the base and in each overlay, validates offline and agrees with the code.

Built-in kinds are validated with the Kubernetes schemas ``kubernetes-validate`` ships (strict:
an unknown field is an error); Strimzi, CloudNativePG and KEDA resources against the CRDs
vendored in tests/data/crds (see its NOTICE.md), made strict the same way. No cluster is needed.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from apps.runtime import services as svc
from apps.runtime.kafka_cluster import KafkaNode, node_properties
from common import settings as settings_module
from common.settings import PROJECT_ROOT, RuntimeSettings
from kafka.topics import ALL_TOPICS, CONSUMER_GROUPS, ENTITY_TOPICS, pipeline_topics
from tests.kustomize_lite import KustomizeError, render

K8S = PROJECT_ROOT / "deploy" / "k8s"
CRD_DIR = Path(__file__).parent / "data" / "crds"
TREES = ("base", "overlays/small", "overlays/large")
K8S_VERSIONS = ("1.30", "1.37")  # the oldest Kubernetes the operators' current releases support, and the newest
SECRET_WORDS = re.compile(r"pass(word)?|secret|token|api_?key|credential|database_url", re.IGNORECASE)


@functools.cache
def rendered(tree: str) -> tuple[dict[str, Any], ...]:
    return tuple(render(K8S / tree))


def by_kind(tree: str, kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in rendered(tree) if r["kind"] == kind}


# --- schemas ------------------------------------------------------------------------------------
def _strict(schema: Any) -> Any:
    """Reject unknown fields as the API server's strict field validation does."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        open_ended = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in schema and not open_ended:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, from every vendored CRD and each served version."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    api_version = f"{crd['spec']['group']}/{version['name']}"
                    schema = _strict(version["schema"]["openAPIV3Schema"])
                    schemas[(api_version, crd["spec"]["names"]["kind"])] = schema
    return schemas


def manifest_errors(resource: dict[str, Any], k8s_version: str = K8S_VERSIONS[0]) -> list[str]:
    """Every schema violation of one resource, as ``path: message`` lines."""
    name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
    schema = crd_schemas().get((resource.get("apiVersion"), resource.get("kind")))
    if schema is not None:
        errors = jsonschema.Draft7Validator(schema).iter_errors(resource)
        return sorted(f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    try:
        kubernetes_validate.validate(resource, k8s_version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{name}: {'/'.join(map(str, e.path))}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"{name}: {e.message}"]
    return []


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
@pytest.mark.parametrize("tree", TREES)
def test_every_resource_validates(tree: str, k8s_version: str) -> None:
    resources = rendered(tree)
    assert len(resources) == 22
    assert [e for r in resources for e in manifest_errors(r, k8s_version)] == []
    assert all(r["metadata"]["namespace"] == "pipeline" for r in resources if r["kind"] != "Namespace")


def _set(document: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        document = document[int(key)] if key.isdigit() else document[key]
    if value is _DELETE:
        del document[int(last) if last.isdigit() else last]
    else:
        document[int(last) if last.isdigit() else last] = value


_DELETE = object()
BROKEN = [
    ("Deployment", "order-consumer", "spec.template.spec.containers.0.image", 123),  # wrong type
    ("Deployment", "producer", "spec.replicaz", 1),  # unknown field
    ("Job", "pipeline-init", "spec.template", _DELETE),  # required
    ("Service", "console", "spec.ports.0.port", "http"),
    ("ConfigMap", "pipeline-config", "data.PIPELINE_TOPIC_PARTITIONS", 3),  # ConfigMap values are strings
    ("Kafka", "pipeline", "spec.kafka.listeners", _DELETE),  # required
    ("Kafka", "pipeline", "spec.kafka.replicas", 3),  # gone from the v1 API: node pools size the cluster
    ("KafkaNodePool", "combined", "spec.roles", ["broker", "zookeeper"]),  # not in the enum
    ("KafkaTopic", "orders", "spec.partitions", 0),  # below the minimum
    ("KafkaTopic", "users", "spec.partitionz", 6),
    ("Cluster", "pipeline-db", "spec.instances", "3"),
    ("Cluster", "pipeline-db", "spec.storage.sise", "10Gi"),
    ("ScaledObject", "user-consumer", "spec.scaleTargetRef", _DELETE),  # required
    ("ScaledObject", "user-consumer", "spec.maxReplicaCount", "twelve"),
]


@pytest.mark.parametrize(("kind", "name", "path", "value"), BROKEN, ids=[f"{k}-{p}" for k, _, p, _ in BROKEN])
def test_a_broken_copy_fails_validation(kind: str, name: str, path: str, value: object) -> None:
    original = by_kind("overlays/large", kind)[name]
    assert manifest_errors(original) == []
    broken = copy.deepcopy(original)
    _set(broken, path, value)
    assert manifest_errors(broken), f"{kind}/{name} with {path}={value!r} passed validation"


def test_an_unknown_kind_is_an_error_not_a_pass() -> None:
    assert manifest_errors({"apiVersion": "example.com/v1", "kind": "Pipeline", "metadata": {"name": "x"}})


# --- agreement with the code --------------------------------------------------------------------
def _partitions(tree: str) -> int:
    return int(by_kind(tree, "ConfigMap")["pipeline-config"]["data"]["PIPELINE_TOPIC_PARTITIONS"])


@pytest.mark.parametrize("tree", TREES)
def test_topics_match_kafka_topics_py(tree: str) -> None:
    topics = by_kind(tree, "KafkaTopic")
    assert set(topics) == {spec.name for spec in ALL_TOPICS}
    for spec in pipeline_topics(_partitions(tree)):
        resource = topics[spec.name]
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "pipeline"
        assert resource["spec"]["partitions"] == spec.partitions, spec.name
        assert resource["spec"]["replicas"] == spec.replication_factor == 3
        assert {k: str(v) for k, v in resource["spec"]["config"].items()} == spec.config, spec.name
    assert {topics[s.dlq]["spec"]["partitions"] for s in ENTITY_TOPICS} == {3}
    assert _partitions("overlays/small") == 3 and _partitions("overlays/large") == 12


@pytest.mark.parametrize("tree", TREES)
def test_keda_scales_each_group_on_lag_up_to_its_partition_count(tree: str) -> None:
    scaled = by_kind(tree, "ScaledObject")
    deployments = by_kind(tree, "Deployment")
    bootstrap = by_kind(tree, "ConfigMap")["pipeline-config"]["data"]["PIPELINE_KAFKA_BOOTSTRAP_SERVERS"]
    topics = by_kind(tree, "KafkaTopic")
    assert len(scaled) == len(CONSUMER_GROUPS)
    for topic, group in CONSUMER_GROUPS.items():
        name = f"{topic.removesuffix('s')}-consumer"
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name and name in deployments
        assert "replicas" not in deployments[name]["spec"], "KEDA owns the replica count"
        assert spec["minReplicaCount"] == 1
        assert spec["maxReplicaCount"] == topics[topic]["spec"]["partitions"] == _partitions(tree)
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"] | {"lagThreshold": "x"} == {
            "bootstrapServers": bootstrap, "consumerGroup": group, "topic": topic, "lagThreshold": "x",
            "offsetResetPolicy": "earliest", "allowIdleConsumers": "false",
        }  # fmt: skip


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return resource["spec"]["template"]["spec"]["containers"]


def test_workloads_run_the_commands_of_the_service_catalogue() -> None:
    deployments = by_kind("base", "Deployment")
    for spec in svc.consumer_services(1):
        (container,) = _containers(deployments[spec.name.removesuffix("-1")])
        assert container["command"] == ["python", "-m", spec.module, *spec.args[:-1], "auto"]
    for spec, name in ((svc.PRODUCER, "producer"), (svc.CONSOLE, "console")):
        (container,) = _containers(deployments[name])
        assert container["command"] == ["python", "-m", spec.module]
    assert set(deployments) == {"user-consumer", "product-consumer", "order-consumer", "producer", "console"}
    jobs = by_kind("base", "Job")
    (init,) = _containers(jobs["pipeline-init"])
    assert init["command"][-1] == f"python -m apps.pipeline.migrate && exec python -m {svc.TOPIC_INIT.module}"
    (seed,) = _containers(jobs["pipeline-seed"])
    assert seed["command"] == ["python", "-m", "apps.pipeline.seed"]
    service = by_kind("base", "Service")["console"]
    assert service["spec"]["selector"] == deployments["console"]["spec"]["template"]["metadata"]["labels"]


def _setting_names() -> set[str]:
    """Every PIPELINE_* variable some settings class of common/settings.py reads."""
    names = set()
    for value in vars(settings_module).values():
        if isinstance(value, type) and issubclass(value, settings_module.BaseSettings) and value.model_config:
            prefix = value.model_config.get("env_prefix", "")
            names |= {(prefix + field).upper() for field in value.model_fields}
    return names


@pytest.mark.parametrize("tree", TREES)
def test_settings_come_through_env_and_secrets_through_secret_refs(tree: str) -> None:
    known = _setting_names()
    config = by_kind(tree, "ConfigMap")["pipeline-config"]["data"]
    assert set(config) <= known, set(config) - known
    assert not [k for k in config if SECRET_WORDS.search(k)], "a secret in the ConfigMap"
    for resource in rendered(tree):
        if resource["kind"] not in {"Deployment", "Job"}:
            continue
        for container in _containers(resource):
            assert container["envFrom"] == [{"configMapRef": {"name": "pipeline-config"}}]
            for env in container.get("env", []):
                assert env["name"] in known, env["name"]
                if SECRET_WORDS.search(env["name"]):
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]
            if resource["metadata"]["name"] not in {"producer", "pipeline-seed"}:  # they only talk to Kafka
                (database,) = [e["valueFrom"] for e in container["env"] if e["name"] == "PIPELINE_DATABASE_URL"]
                assert database == {"secretKeyRef": {"name": "pipeline-db-app", "key": "uri"}}
    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", "\n".join(p.read_text() for p in K8S.rglob("*.yaml")))


def test_kafka_is_three_kraft_nodes_with_the_local_runtime_durability() -> None:
    (pool,) = by_kind("base", "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3 and sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    kafka = by_kind("base", "Kafka")["pipeline"]["spec"]["kafka"]
    assert kafka["version"] == RuntimeSettings.model_fields["kafka_version"].default
    local = dict(line.split("=", 1) for line in node_properties(KafkaNode(1, 1, 2, Path("/x")), "v").splitlines())
    assert {k: str(v).lower() for k, v in kafka["config"].items()}.items() <= local.items()
    durability = {"min.insync.replicas", "default.replication.factor", "unclean.leader.election.enable"}
    assert durability <= set(kafka["config"])
    database = by_kind("overlays/large", "Cluster")["pipeline-db"]["spec"]
    assert database["instances"] == 3 and by_kind("overlays/small", "Cluster")["pipeline-db"]["spec"]["instances"] == 1


# --- the renderer and the vendored schemas ------------------------------------------------------
def _kustomize_binary() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.skipif(_kustomize_binary() is None, reason="neither kustomize nor kubectl is installed")
@pytest.mark.parametrize("tree", TREES)
def test_the_python_renderer_matches_kustomize(tree: str) -> None:
    out = subprocess.run([*_kustomize_binary(), str(K8S / tree)], capture_output=True, text=True, check=True).stdout
    theirs = {(r["kind"], r["metadata"]["name"]): r for r in yaml.safe_load_all(out) if r}
    assert theirs == {(r["kind"], r["metadata"]["name"]): r for r in rendered(tree)}


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(KustomizeError, match="configMapGenerator"):
        render(tmp_path)


def test_vendored_crds_are_unmodified_and_licensed() -> None:
    notice = (CRD_DIR / "NOTICE.md").read_text()
    for path in CRD_DIR.glob("*.yaml"):
        assert f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}" in notice, path.name
    for project in ("strimzi", "cnpg", "keda"):
        assert "Apache License" in (CRD_DIR / f"{project}.LICENSE").read_text()
    assert {kind for _, kind in crd_schemas()} == {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster", "ScaledObject"}
