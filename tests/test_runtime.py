"""The foundation: the cluster forms, topics match their definition, nothing acked is lost
when a broker dies, PostgreSQL runs, and bad input gets one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import defaultdict

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from apps.runtime.checks import java_binary, require_free_ports
from apps.runtime.errors import RuntimeProblem
from common.settings import PROJECT_ROOT
from database.database import DatabaseUnavailable, wait_for_database
from kafka.admin.setup_topics import ensure_topics, find_drift
from kafka.config import consumer_config, producer_config
from kafka.topics import ALL_TOPICS

pytestmark = pytest.mark.usefixtures("runtime")


def _local(runtime):
    if runtime.supervisor is None:
        pytest.skip("needs the local runtime (supervised processes)")
    return runtime


def test_cluster_forms_with_three_brokers_and_a_quorum_leader(runtime, bootstrap_servers):
    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10)
    assert sorted(metadata.brokers) == [1, 2, 3]
    status = _local(runtime).cluster.quorum_status()
    assert status["LeaderId"] in {"1", "2", "3"}
    assert status["CurrentVoters"].count('"id"') == 3


def test_topics_match_their_definition_and_rerun_is_safe(kafka_settings):
    reports = ensure_topics(kafka_settings)  # topic-init already created them: a re-run only checks
    assert {r.name for r in reports} == {"users", "products", "orders", "users-dlq", "products-dlq", "orders-dlq"}
    assert all(r.action == "ok" for r in reports), reports
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
    assert find_drift(admin, ALL_TOPICS) == {spec.name: [] for spec in ALL_TOPICS}
    configs = {
        r.name: f.result()
        for r, f in admin.describe_configs(
            [__import__("confluent_kafka.admin").admin.ConfigResource("topic", t) for t in ("users", "orders")]
        ).items()
    }
    assert configs["orders"]["retention.ms"].value == str(30 * 24 * 3600 * 1000)
    assert configs["users"]["retention.ms"].value == str(7 * 24 * 3600 * 1000)
    assert configs["users"]["compression.type"].value == "lz4"
    assert configs["users"]["min.insync.replicas"].value == "2"


def test_drift_is_reported_not_changed(kafka_settings, make_topic):
    from kafka.topics import TopicSpec

    name = make_topic(partitions=2, config={"min.insync.replicas": "1"})
    spec = TopicSpec(name=name, config={"min.insync.replicas": "2"})
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
    drift = find_drift(admin, (spec,))[name]
    assert "partitions 2 != 3" in drift
    assert "min.insync.replicas=1 (wanted 2)" in drift


def _wait_full_isr(admin: AdminClient, topic: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions.values()
        if all(len(p.isrs) == 3 for p in partitions):
            return
        time.sleep(1)
    raise AssertionError(f"ISR of {topic} did not return to 3 replicas")


def test_no_acknowledged_message_is_lost_when_a_broker_is_killed(runtime, kafka_settings, make_topic, unique_name):
    runtime = _local(runtime)
    topic = make_topic()
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap_servers})
    producer = Producer(producer_config(kafka_settings) | {"linger.ms": 5})
    acked: dict[str, list[int]] = defaultdict(list)

    def on_delivery(err, msg):
        if err is None:
            acked[msg.key().decode()].append(int(msg.value()))

    total, killed_at = 10_000, 5_000
    for i in range(total):
        if i == killed_at:
            producer.flush(30)
            victim = runtime.supervisor.state("kafka-2")["pid"]
            os.kill(victim, 9)  # SIGKILL, mid-stream; supervisord restarts it
        while True:
            try:
                producer.produce(topic, key=f"key-{i % 50}", value=str(i), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0
    assert sum(len(v) for v in acked.values()) == total

    consumer = Consumer(consumer_config(kafka_settings, unique_name("g")) | {"isolation.level": "read_uncommitted"})
    consumer.subscribe([topic])
    seen: dict[str, list[int]] = defaultdict(list)
    deadline = time.monotonic() + 90
    while sum(len(v) for v in seen.values()) < total and time.monotonic() < deadline:
        for msg in consumer.consume(1000, timeout=1):
            if msg.error() is None:
                seen[msg.key().decode()].append(int(msg.value()))
    consumer.close()
    for key, values in acked.items():
        assert seen[key] == sorted(values), f"{key}: lost, duplicated or reordered"
        assert len(set(seen[key])) == len(seen[key])
    _wait_full_isr(admin, topic)


def test_private_postgres_accepts_connections_and_stops_cleanly(runtime, database_url):
    runtime = _local(runtime)
    if runtime.external_db:
        pytest.skip("PIPELINE_DATABASE_URL points at an external server")
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "pipeline"
    runtime.supervisor.stop("postgres")
    assert runtime.supervisor.state("postgres")["statename"] == "STOPPED"
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:\d+/pipeline"):
        wait_for_database(database_url, timeout_s=1)
    runtime.supervisor.start("postgres")
    wait_for_database(database_url, timeout_s=30)


def test_port_in_use_is_one_clear_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(RuntimeProblem, match=f"port {port} needed by kafka-1 is already in use"):
            require_free_ports({"kafka-1": port})


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_wrong_database_url_is_one_clear_line():
    env = os.environ | {"PIPELINE_DATABASE_URL": "mysql://root@127.0.0.1/x", "PIPELINE_RUNTIME": "local"}
    result = _manage("migrate", env=env)
    assert result.returncode == 2
    assert "invalid setting PIPELINE_DATABASE_URL" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(DatabaseUnavailable, match=f"cannot connect to PostgreSQL at 127.0.0.1:{port}/db"):
        wait_for_database(f"postgresql+psycopg://u:p@127.0.0.1:{port}/db", timeout_s=1)


def test_missing_java_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeProblem, match="Java 17\\+ is required.*apt-get install"):
        java_binary()
    old_java = tmp_path / "java"
    old_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    old_java.chmod(0o755)
    with pytest.raises(RuntimeProblem, match="found Java 11"):
        java_binary()


def test_invalid_settings_name_the_setting():
    env = os.environ | {"PIPELINE_KAFKA_BOOTSTRAP_SERVERS": "localhost", "PIPELINE_RUNTIME": "local"}
    result = _manage("topics", env=env)
    assert result.returncode == 2
    assert "invalid setting PIPELINE_KAFKA_BOOTSTRAP_SERVERS" in result.stdout
