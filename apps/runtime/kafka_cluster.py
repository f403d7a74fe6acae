"""Provision and describe a 3-node Apache Kafka cluster in KRaft combined mode on 127.0.0.1.

The broker jars come from Maven Central (``deploy/kafka/pom.xml``); every node is both broker
and controller, with a static voter set, so the quorum survives the loss of any one node.
This module only writes files and builds command lines; the supervisor runs the processes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from apps.runtime.checks import java_binary
from apps.runtime.errors import RuntimeProblem
from common.settings import PROJECT_ROOT, RuntimeSettings

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
SCRAM_MECHANISM = "SCRAM-SHA-512"
_SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"  # server side: no credentials
SASL_PROPERTIES = f"""\
sasl.enabled.mechanisms={SCRAM_MECHANISM}
listener.name.sasl_plaintext.sasl.enabled.mechanisms={SCRAM_MECHANISM}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={_SCRAM_JAAS}
"""

LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = %d{ISO8601} %p [%c{1}] %m%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
"""


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller node."""

    node_id: int
    port: int
    controller_port: int
    home: Path
    sasl_port: int | None = None  # opt-in SASL_PLAINTEXT (SCRAM-SHA-512) listener

    @property
    def name(self) -> str:
        return f"kafka-{self.node_id}"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


class KafkaCluster:
    """Files and commands for the local cluster described by ``RuntimeSettings``."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.home = settings.runtime_dir / "kafka"
        self.libs = settings.kafka_libs_dir / settings.kafka_version
        sasl_ports = settings.kafka_sasl_ports or (None, None, None)
        self.nodes = [
            KafkaNode(i + 1, port, cport, self.home / f"node-{i + 1}", sasl)
            for i, (port, cport, sasl) in enumerate(
                zip(settings.kafka_ports, settings.kafka_controller_ports, sasl_ports, strict=True)
            )
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def sasl_bootstrap_servers(self) -> str | None:
        """The secured listener's addresses, when ``PIPELINE_KAFKA_SASL_PORTS`` enables it."""
        if self.settings.kafka_sasl_ports is None:
            return None
        return ",".join(f"127.0.0.1:{n.sasl_port}" for n in self.nodes)

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    def ports(self) -> dict[str, int]:
        """Every port the cluster will listen on, named by its owner."""
        ports = {f"{n.name} (client)": n.port for n in self.nodes}
        ports |= {f"{n.name} (controller)": n.controller_port for n in self.nodes}
        ports |= {f"{n.name} (sasl)": n.sasl_port for n in self.nodes if n.sasl_port is not None}
        return ports

    # --- provisioning -------------------------------------------------------------------------
    def provision_libs(self) -> None:
        """Resolve the broker jars once (about 55 MB) into the ignored runtime folder."""
        marker = self.libs / ".complete"
        fingerprint = hashlib.sha256(POM.read_bytes()).hexdigest()
        if marker.exists() and marker.read_text() == fingerprint:
            return
        shutil.rmtree(self.libs, ignore_errors=True)
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeProblem("Maven is required to fetch Kafka's jars: 'apt-get install -y maven'")
        self.libs.mkdir(parents=True, exist_ok=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={self.settings.kafka_version}",
            "dependency:copy-dependencies", f"-DoutputDirectory={self.libs}",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(self.libs.glob("kafka_2.13-*.jar")):
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise RuntimeProblem(f"could not fetch Kafka {self.settings.kafka_version} jars: {' '.join(tail)}")
        marker.write_text(fingerprint)

    def write_configs(self) -> None:
        """Write server.properties and log4j2 config for each node (always, so settings apply)."""
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        (self.home).mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        for node in self.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            node.config_file.write_text(node_properties(node, voters))

    def format_storage(self) -> None:
        """Format each node's log dir once with the fixed cluster id (skipped when already done)."""
        for node in self.nodes:
            if (node.data_dir / "meta.properties").exists():
                continue
            result = subprocess.run(
                [
                    *self.java_command("kafka.tools.StorageTool"), "format",
                    "-t", self.settings.kafka_cluster_id, "-c", str(node.config_file), "--ignore-formatted",
                    *self._scram_format_args(),
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise RuntimeProblem(f"formatting {node.name} storage failed: {result.stderr.strip()[-300:]}")

    def _scram_format_args(self) -> list[str]:
        """``--add-scram`` for the SASL user, so the credential exists from the first start."""
        user = self.scram_user()
        if user is None:
            return []
        return ["--add-scram", f"{SCRAM_MECHANISM}=[name={user[0]},password={user[1]}]"]

    def scram_user(self) -> tuple[str, str] | None:
        """(username, password) of the SASL listener's user; None when the listener is off."""
        if self.settings.kafka_sasl_ports is None or self.settings.kafka_sasl_password is None:
            return None
        return self.settings.kafka_sasl_username, self.settings.kafka_sasl_password.get_secret_value()

    def ensure_scram_user(self, timeout_s: float = 30) -> None:
        """Create or update the SCRAM credential through the plaintext listener (storage formatted earlier)."""
        from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

        user = self.scram_user()
        if user is None:
            return
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
        upsert = UserScramCredentialUpsertion(user[0], info, user[1].encode())
        for future in admin.alter_user_scram_credentials([upsert], request_timeout=timeout_s).values():
            future.result()

    def provision(self) -> None:
        """Everything a cold start needs; each step is skipped when already done."""
        java_binary()
        self.provision_libs()
        self.write_configs()
        self.format_storage()

    # --- commands -----------------------------------------------------------------------------
    def java_command(self, main_class: str, heap: str = "256m") -> list[str]:
        return [
            java_binary(), f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp", self.classpath, main_class,
        ]  # fmt: skip

    def node_command(self, node: KafkaNode) -> list[str]:
        """The broker's JVM: heap sized so three nodes and PostgreSQL fit a 2-core, 24 GiB machine."""
        heap = self.settings.kafka_heap
        return [
            java_binary(), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp", self.classpath, "kafka.Kafka", str(node.config_file),
        ]  # fmt: skip

    def quorum_status(self, timeout_s: float = 30) -> dict[str, str]:
        """``kafka-metadata-quorum describe --status`` as a dict (LeaderId, CurrentVoters, ...)."""
        result = subprocess.run(
            [
                *self.java_command("org.apache.kafka.tools.MetadataQuorumCommand"),
                "--bootstrap-server", self.bootstrap_servers, "describe", "--status",
            ],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        status = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                status[key.strip()] = value.strip()
        return status

    def wait_ready(self, timeout_s: float = 120) -> dict[str, str]:
        """Block until metadata lists every broker and the controller quorum has a leader."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        deadline = time.monotonic() + timeout_s
        brokers = 0
        while time.monotonic() < deadline:
            try:
                brokers = len(admin.list_topics(timeout=5).brokers)
            except Exception:  # noqa: BLE001 - not up yet; keep waiting until the deadline
                brokers = 0
            if brokers == len(self.nodes):
                status = self.quorum_status()
                if re.fullmatch(r"\d+", status.get("LeaderId", "")) and status["LeaderId"] != "-1":
                    return status
            time.sleep(1)
        raise RuntimeProblem(
            f"Kafka not ready after {timeout_s:.0f}s ({brokers}/{len(self.nodes)} brokers registered): "
            "see 'make logs-kafka'"
        )


def node_properties(node: KafkaNode, voters: str) -> str:
    """server.properties for one node; the reasons are in GUIDE/KAFKA_SETUP_GUIDE.md.

    With ``node.sasl_port`` a third listener, SASL_PLAINTEXT with SCRAM-SHA-512, is added for
    clients; brokers and controllers keep talking plaintext on 127.0.0.1. Without it the file is
    exactly what it always was.
    """
    listeners = f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
    advertised = f"PLAINTEXT://127.0.0.1:{node.port}"
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    sasl = ""
    if node.sasl_port is not None:
        listeners += f",SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}"
        advertised += f",SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}"
        protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
        sasl = SASL_PROPERTIES
    return f"""\
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners={advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map={protocols}
log.dirs={node.data_dir}
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=268435456
{sasl}"""
