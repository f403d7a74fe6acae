"""Provision and describe a 3-node Apache Kafka cluster in KRaft combined mode on 127.0.0.1.

The broker jars come from Maven Central (``deploy/kafka/pom.xml``); every node is both broker
and controller, with a static voter set, so the quorum survives the loss of any one node.
This module only writes files and builds command lines; the supervisor runs the processes.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from apps.runtime.checks import java_binary
from apps.runtime.errors import RuntimeProblem
from apps.runtime.kafka_security import BrokerTls
from common.settings import PROJECT_ROOT, RuntimeSettings

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
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
    internal_port: int | None = None  # the secure profile's inter-broker listener (SSL, mTLS)

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

    def __init__(self, settings: RuntimeSettings, tls: BrokerTls | None = None) -> None:
        self.settings = settings
        self.tls = tls  # set: the secure profile (no plaintext listener at all)
        self.home = settings.runtime_dir / "kafka"
        self.libs = settings.kafka_libs_dir / settings.kafka_version
        internal = settings.kafka_internal_ports if tls else (None, None, None)
        self.nodes = [
            KafkaNode(i + 1, port, cport, self.home / f"node-{i + 1}", iport)
            for i, (port, cport, iport) in enumerate(
                zip(settings.kafka_ports, settings.kafka_controller_ports, internal, strict=True)
            )
        ]

    @property
    def bootstrap_servers(self) -> str:
        """The clients' listener (SASL_SSL in the secure profile)."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def internal_bootstrap_servers(self) -> str:
        """The inter-broker listener (secure profile), reached with the broker certificate."""
        return ",".join(f"127.0.0.1:{n.internal_port}" for n in self.nodes)

    def admin_config(self) -> dict:
        """A super-user AdminClient config: plaintext, or mTLS on the internal listener when secure."""
        if self.tls is None:
            return {"bootstrap.servers": self.bootstrap_servers, "log_level": 0}
        return self.tls.internal_client(self.internal_bootstrap_servers)

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    def ports(self) -> dict[str, int]:
        """Every port the cluster will listen on, named by its owner."""
        ports = {f"{n.name} (client)": n.port for n in self.nodes}
        ports |= {f"{n.name} (controller)": n.controller_port for n in self.nodes}
        ports |= {f"{n.name} (internal)": n.internal_port for n in self.nodes if n.internal_port is not None}
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
            node.config_file.unlink(missing_ok=True)  # created 0600: the secure one holds the key password
            fd = os.open(node.config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(node_properties(node, voters, self.tls))

    def format_storage(self) -> None:
        """Format each node's log dir once with the fixed cluster id (skipped when already done).

        The nodes' StorageTool JVMs run side by side: each spends seconds starting, not formatting.
        """
        tool = [*self.java_command("kafka.tools.StorageTool"), "format", "-t", self.settings.kafka_cluster_id]
        running = {
            node.name: subprocess.Popen(
                [*tool, "-c", str(node.config_file), "--ignore-formatted"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for node in self.nodes
            if not (node.data_dir / "meta.properties").exists()
        }
        stderr = {name: p.communicate()[1] for name, p in running.items()}  # every JVM waited for
        for name, text in stderr.items():
            if running[name].returncode != 0:
                raise RuntimeProblem(f"formatting {name} storage failed: {text.strip()[-300:]}")

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
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", *shlex.split(self.settings.kafka_jvm_options),
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp", self.classpath, "kafka.Kafka", str(node.config_file),
        ]  # fmt: skip

    def quorum_status(self, timeout_s: float = 30) -> dict[str, str]:
        """``kafka-metadata-quorum describe --status`` as a dict (LeaderId, CurrentVoters, ...)."""
        if self.tls is None:
            target = ["--bootstrap-server", self.bootstrap_servers]
        else:  # the tool's TLS settings by file: its command line shows only the path
            tool_config = self.tls.write_tool_config(self.settings.secrets_dir / "internal-client.properties")
            target = ["--bootstrap-server", self.internal_bootstrap_servers, "--command-config", str(tool_config)]
        result = subprocess.run(
            [*self.java_command("org.apache.kafka.tools.MetadataQuorumCommand"), *target, "describe", "--status"],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        status = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                status[key.strip()] = value.strip()
        return status

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Block until metadata lists every broker, which means the controller quorum has a leader.

        A broker is listed only once the active controller has registered and unfenced it, so no
        ``quorum_status`` JVM (two seconds of CPU while the brokers start) is needed to know it.
        """
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(self.admin_config())
        deadline = time.monotonic() + timeout_s
        brokers = 0
        while time.monotonic() < deadline:
            try:
                brokers = len(admin.list_topics(timeout=5).brokers)
            except Exception:  # noqa: BLE001 - not up yet; keep waiting until the deadline
                brokers = 0
            if brokers == len(self.nodes):
                return
            time.sleep(1)
        raise RuntimeProblem(
            f"Kafka not ready after {timeout_s:.0f}s ({brokers}/{len(self.nodes)} brokers registered): "
            "see 'make logs-kafka'"
        )


def node_properties(node: KafkaNode, voters: str, tls: BrokerTls | None = None) -> str:
    """server.properties for one node; the reasons are in GUIDE/KAFKA_SETUP_GUIDE.md.

    Plaintext on 127.0.0.1 by default. With ``tls`` (the secure profile, GUIDE/SECURITY.md) every
    listener is encrypted: clients SASL_SSL, inter-broker and controller SSL with client certificates.
    """
    if tls is None:
        listeners = f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
        advertised = f"PLAINTEXT://127.0.0.1:{node.port}"
        protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        inter_broker, security = "PLAINTEXT", ""
    else:
        listeners = (
            f"CLIENT://127.0.0.1:{node.port},INTERNAL://127.0.0.1:{node.internal_port},"
            f"CONTROLLER://127.0.0.1:{node.controller_port}"
        )
        advertised = f"CLIENT://127.0.0.1:{node.port},INTERNAL://127.0.0.1:{node.internal_port}"
        protocols = "CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL"
        inter_broker, security = "INTERNAL", tls.properties()
    return f"""\
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners={advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name={inter_broker}
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
leader.imbalance.check.interval.seconds=30
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=268435456
{security}"""
