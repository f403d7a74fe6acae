"""The optional observability profile: Prometheus scrapes the console, Grafana's dashboard asks only
for metrics the pipeline exposes, and the default compose file keeps its 17 services untouched."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from apps.runtime import services as svc
from common.settings import PROJECT_ROOT
from kafka import metrics  # noqa: F401 - registers the producer's and consumers' families
from tests.test_compose import _env, _schema_errors

DEPLOY = PROJECT_ROOT / "deploy"
OBSERVABILITY = DEPLOY / "docker-compose.observability.yml"
CONSOLE_FAMILIES = {"pipeline_brokers_up", "pipeline_brokers", "pipeline_under_replicated_partitions",
                    "pipeline_offline_partitions", "pipeline_consumer_lag", "pipeline_service_up"}  # fmt: skip


def test_profile_adds_prometheus_and_grafana_only() -> None:
    document = yaml.safe_load(OBSERVABILITY.read_text())
    assert _schema_errors(document) == []
    assert set(document["services"]) == {"prometheus", "grafana"}
    for service in document["services"].values():
        assert service["profiles"] == ["observability"]
        assert all(str(p).startswith("127.0.0.1:") for p in service["ports"])
    for mount in document["services"]["prometheus"]["volumes"] + document["services"]["grafana"]["volumes"]:
        source = mount.split(":")[0]
        assert source in document["volumes"] or (DEPLOY / source).exists(), mount
    assert "docker-compose.observability.yml" in (PROJECT_ROOT / "dc.sh").read_text()


def test_console_gathers_every_metrics_serving_service() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    targets = dict(t.split("=") for t in _env(compose["kafka-ui"])["PIPELINE_CONSOLE_METRICS_TARGETS"].split(","))
    serving = set(svc.metrics_ports(9400))
    assert set(targets) == serving
    for name in serving:
        assert _env(compose[name])["PIPELINE_METRICS_PORT"] == targets[name].split(":")[1] == "9400"
    prometheus = yaml.safe_load((DEPLOY / "observability" / "prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["kafka-ui:8080"]


def test_dashboard_queries_only_exposed_metrics() -> None:
    exposed = {f.name for f in text_string_to_metric_families(generate_latest().decode())} | CONSOLE_FAMILIES
    dashboard = json.loads((DEPLOY / "observability" / "grafana" / "dashboards" / "pipeline.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {re.sub(r"_(total|bucket|count|sum)$", "", name) for e in exprs for name in re.findall(r"pipeline_\w+", e)}
    assert used and used <= exposed, sorted(used - exposed)
    assert {"pipeline_end_to_end_seconds", "pipeline_consumer_lag", "pipeline_events_applied"} <= used
