"""Past one machine, on real services: partitions grow (never shrink), six members per group each
own one partition, and a second checkout runs the pipeline on Kafka and PostgreSQL it did not start:
topics, migrations, consumers, seed, producer, status, verify, console and two benchmarks.
It needs no session runtime: the services it runs on are its own, started on free ports.

The external-services test starts its own runtime ("theirs", on free ports) and points a copy of
the repository at it with PIPELINE_KAFKA_BOOTSTRAP_SERVERS and PIPELINE_DATABASE_URL, as a user
would point it at a managed cluster; it then checks that no broker or PostgreSQL process was added.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from apps.runtime import services as svc
from apps.runtime.checks import free_port
from apps.runtime.reaper import start_reaper
from common.settings import KafkaSettings, RuntimeSettings
from kafka.admin.setup_topics import GROWN_NOTE, ensure_topics
from kafka.topics import CONSUMER_GROUPS, TopicSpec
from tests.conftest import _start_local
from tests.laps import Laps
from tests.status_probe import Probe, wait_status
from tests.test_start_all import _copy_repo


def _partitions(bootstrap: str, topic: str) -> int:
    return len(AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics[topic].partitions)


def _grow_and_never_shrink(bootstrap: str) -> None:
    """ensure_topics on a scratch topic: 3 -> 6 partitions with the note, then a lower spec changes nothing."""
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    config = {"min.insync.replicas": "2"}
    name = f"grow-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # held: a client collected mid-call fails with _DESTROY
    admin.create_topics([NewTopic(name, 3, 3, config=config)])[name].result(30)
    (grown,) = ensure_topics(settings, (TopicSpec(name, partitions=6, config=config),))
    assert (grown.action, grown.drift) == ("grown", [])
    assert "partitions 3 -> 6" in grown.note and GROWN_NOTE in grown.note
    assert _partitions(bootstrap, name) == 6
    (kept,) = ensure_topics(settings, (TopicSpec(name, partitions=3, config=config),))
    assert (kept.action, kept.drift) == ("ok", []) and "never shrinks" in kept.note
    assert _partitions(bootstrap, name) == 6


def _servers() -> dict[str, set[int]]:
    """PIDs of Kafka brokers and PostgreSQL postmasters (not their per-connection backends)."""
    found: dict[str, set[int]] = {"brokers": set(), "postmasters": set()}
    for proc in psutil.process_iter(["pid", "name", "cmdline", "ppid"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "kafka.Kafka " in cmdline:
            found["brokers"].add(proc.info["pid"])
        elif proc.info["name"] == "postgres":
            try:
                parent = psutil.Process(proc.info["ppid"]).name()
            except psutil.Error:
                parent = ""
            if parent != "postgres":
                found["postmasters"].add(proc.info["pid"])
    return found


class Checkout:
    """A copy of the repository whose settings point at services someone else runs."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env
        kafka = KafkaSettings(bootstrap_servers=env["PIPELINE_KAFKA_BOOTSTRAP_SERVERS"])
        self.probe = Probe(kafka, env["PIPELINE_DATABASE_URL"])

    def manage(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=self.path, env=self.env | env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def ok(self, *args: str, **env: str) -> str:
        result = self.manage(*args, **env)
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    def status(self) -> dict:
        return json.loads(self.ok("status", "--json"))

    def wait_status(self, holds: Callable[[dict], bool], timeout_s: float) -> dict:
        """Until ``holds`` the checkout's ``manage.py status --json``; returns that report."""
        return wait_status(self.probe, self.status, holds, timeout_s)

    def wait_rows(self, table: str, timeout_s: float = 120) -> None:
        """Until ``table`` has at least one row."""
        self.wait_status(lambda report: bool(report["tables"].get(table)), timeout_s)

    def wait_groups(self, members: int, idle: int, timeout_s: float = 240) -> dict:
        """Until each group has ``members`` members, ``idle`` of them without a partition, and no lag."""

        def settled(report: dict) -> bool:
            groups = report["consumer_groups"]
            return (
                "error" not in groups
                and report["total_lag"] == 0
                and all(len(g["members"]) == members and len(g["idle"]) == idle for g in groups.values())
            )

        return self.wait_status(settled, timeout_s)


@pytest.mark.slow
def test_six_partitions_six_members_each_on_services_the_checkout_did_not_start():
    laps = Laps()
    base = Path(tempfile.mkdtemp(prefix="pipeline-external-"))
    base.chmod(0o755)
    copy = base / "checkout"
    reapers = [start_reaper(base / "theirs"), start_reaper(copy / ".runtime")]  # if this test dies
    theirs = _start_local(base / "theirs")
    laps.lap("their runtime up")
    copy.mkdir()
    _copy_repo(copy)
    laps.lap("copy repo")
    console_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")} | {
        "PIPELINE_RUNTIME": "local",
        "PIPELINE_KAFKA_BOOTSTRAP_SERVERS": theirs.cluster.bootstrap_servers,
        "PIPELINE_DATABASE_URL": theirs.database_url,
        "PIPELINE_KAFKA_LIBS_DIR": str(RuntimeSettings().kafka_libs_dir),
        "PIPELINE_CONSOLE_PORT": str(console_port),
        "PIPELINE_TOPIC_PARTITIONS": "6",
        "PIPELINE_CONSUMER_INSTANCES": "6",
        "PIPELINE_SEED_USERS": "300",
        "PIPELINE_SEED_PRODUCTS": "500",
        "COLUMNS": "300",  # Rich wraps at 80 columns when not on a terminal
    }
    ours = Checkout(copy, env)
    their_servers = {row.pid for row in theirs.ps() if row.name in {*svc.KAFKA_SERVICES, *svc.DATABASE_SERVICES}}
    before = _servers()
    assert len(their_servers) == 4 and their_servers <= before["brokers"] | before["postmasters"]
    try:
        _grow_and_never_shrink(theirs.cluster.bootstrap_servers)
        laps.lap("grow scratch topic")
        grown = ours.ok("topics")  # their topics have 3 partitions: grow to 6, and say what it means
        assert grown.count("3 -> 6") == 3 and "keyed order per entity" in " ".join(grown.split())
        assert all(_partitions(theirs.cluster.bootstrap_servers, t) == 6 for t in CONSUMER_GROUPS)
        laps.lap("topics 3 -> 6")
        ours.ok("up")  # external services: migrate and topic-init only
        programs = (copy / ".runtime" / "supervisor" / "supervisord.conf").read_text()
        servers = (*svc.KAFKA_SERVICES, *svc.DATABASE_SERVICES)  # kafka-ui, the console, is no broker
        assert not [name for name in servers if f"[program:{name}]" in programs]
        assert "external services: Kafka at" in ours.ok("ps")
        laps.lap("up, ps")

        ours.ok("start-consumers")
        laps.lap("start-consumers")
        ours.ok("seed")
        laps.lap("seed")
        report = ours.wait_groups(members=6, idle=0)
        for group in report["consumer_groups"].values():  # each member owns exactly one partition
            assert sorted(len(assigned) for assigned in group["members"].values()) == [1] * 6
        laps.lap("wait_groups 6/0")
        assert report["tables"] == {"users": 300, "products": 500, "orders": 0}
        verify = ours.manage("verify")
        assert verify.returncode == 0, verify.stdout[-3000:]
        laps.lap("verify")

        ours.ok("start-producer")  # the realtime generator publishes to their Kafka
        ours.wait_rows("orders")
        laps.lap("producer to first order row")
        ours.ok("stop-producer")
        laps.lap("stop-producer")
        report = ours.wait_groups(members=6, idle=0)
        laps.lap("wait_groups 6/0 after producer")
        assert report["tables"]["orders"] > 0
        verify = ours.manage("verify")
        assert verify.returncode == 0, verify.stdout[-3000:]
        laps.lap("verify")
        sink_args = ("--rows", "1000", "--kafka-rows", "3000", "--partitions", "6", "--members", "6")
        sink_args += ("--price-rounds", "1")
        sink = ours.ok("benchmark", "sink", *sink_args)  # one round of the exactly-once price: no figure is read
        assert "raw COPY" in sink and "6 partitions, group of 6" in sink
        laps.lap("benchmark sink")
        scenarios = ("--scenario", "steady", "--scenario", "outage")
        kafka = ours.ok("benchmark", "kafka", "--short", "--events", "300", "--ceiling-records", "1000", *scenarios)
        assert "outage scenario skipped" in kafka  # their PostgreSQL is not ours to stop
        laps.lap("benchmark kafka")
        (report_csv,) = (copy / "reports").glob("benchmark_kafka_*.csv")
        with report_csv.open(newline="") as handle:
            rows = {(r["scenario"], r["mode"], r["metric"]): r["value"] for r in csv.DictReader(handle)}
        assert {scenario for scenario, _, _ in rows} == {"steady"} and rows[("steady", "on_kafka", "verify_ok")] == "1"

        ours.ok("start-console")
        _wait_http(f"http://127.0.0.1:{console_port}/healthz")
        brokers = json.loads(_wait_http(f"http://127.0.0.1:{console_port}/api/cluster/brokers"))
        assert brokers["count"] == 3
        laps.lap("console")

        ours.ok("start-consumers", PIPELINE_CONSUMER_INSTANCES="7")  # one member more than partitions
        laps.lap("start 7th members")
        report = ours.wait_groups(members=7, idle=1)
        laps.lap("wait_groups 7/1")
        assert all(set(g["idle"]) < set(g["members"]) for g in report["consumer_groups"].values())
        assert "idle member(s)" in ours.ok("status")
        laps.lap("status")
        ours.ok("topics", PIPELINE_TOPIC_PARTITIONS="3")  # never shrinks, says so, exits 0
        assert all(_partitions(theirs.cluster.bootstrap_servers, t) == 6 for t in CONSUMER_GROUPS)
        laps.lap("topics never shrink")

        after = _servers()
        assert after["brokers"] <= before["brokers"] and after["postmasters"] <= before["postmasters"]
        ours.ok("stop-consumers")  # the seventh members too, though the setting is back at six
        assert all(not g["members"] for g in ours.status()["consumer_groups"].values())
        laps.lap("stop-consumers, status")
    finally:
        down = ours.manage("down")
        laps.lap("down")
        theirs_alive = all(psutil.pid_exists(pid) for pid in their_servers)
        watchers = {reaper.pid for reaper in reapers}  # their command lines name the checkout too
        leftovers = [
            f"{p.pid}: {' '.join(p.info['cmdline'])}"
            for p in psutil.process_iter(["cmdline"])
            if p.pid not in watchers and str(copy) in " ".join(p.info["cmdline"] or [])
        ]
        ours.probe.close()
        theirs.down()
        for reaper in reapers:
            reaper.kill()
            reaper.wait()
        shutil.rmtree(base, ignore_errors=True)
        laps.lap("their runtime down")
        print(laps)
    assert down.returncode == 0, down.stdout + down.stderr
    assert theirs_alive and leftovers == []


def _wait_http(url: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
