"""The brokers' JVM options reach their command line (``PIPELINE_KAFKA_JVM_OPTIONS``).

C1-only is the default because on two cores the C2 compilers of three cold brokers cost more CPU
than the brokers' own work for minutes (GUIDE/KAFKA_BENCHMARK_GUIDE.md); the setting brings C2 back.
"""

from __future__ import annotations

from pathlib import Path

from apps.runtime.kafka_cluster import KafkaCluster
from common.settings import RuntimeSettings


def _flags(tmp_path: Path, **overrides: str) -> list[str]:
    cluster = KafkaCluster(RuntimeSettings(runtime_dir=tmp_path, **overrides))
    command = cluster.node_command(cluster.nodes[0])
    return command[: command.index("-cp")]  # JVM options only, before the classpath and main class


def test_brokers_run_c1_only_by_default(tmp_path):
    assert "-XX:TieredStopAtLevel=1" in _flags(tmp_path)


def test_empty_options_bring_back_the_default_jit(tmp_path):
    flags = _flags(tmp_path, kafka_jvm_options="")
    assert not any(f.startswith("-XX:TieredStopAtLevel") for f in flags)
    assert "-XX:+UseG1GC" in flags


def test_options_are_split_like_a_shell(tmp_path):
    flags = _flags(tmp_path, kafka_jvm_options="-XX:CICompilerCount=2  '-Dname=a b'")
    at = flags.index("-XX:CICompilerCount=2")
    assert flags[at + 1] == "-Dname=a b"
