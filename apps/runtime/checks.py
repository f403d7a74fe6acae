"""Preconditions checked before anything starts: Java version, free ports."""

from __future__ import annotations

import functools
import re
import shutil
import socket
import subprocess

from apps.runtime.errors import RuntimeProblem

MIN_JAVA = 17


def java_binary() -> str:
    """Path of a Java 17+ runtime, or a one-line error that says how to get one."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeProblem(
            f"Java {MIN_JAVA}+ is required to run Kafka but 'java' is not on PATH: "
            "install it with 'apt-get install -y openjdk-17-jre-headless'"
        )
    major = _java_major(java)
    if major < MIN_JAVA:
        raise RuntimeProblem(
            f"Java {MIN_JAVA}+ is required to run Kafka, found Java {major or 'unknown'} at {java}: "
            "install it with 'apt-get install -y openjdk-17-jre-headless'"
        )
    return java


@functools.cache
def _java_major(java: str) -> int:
    """The major version ``java -version`` reports (0: unknown), asked once per path and process.

    Every broker command line and every ``names()`` of the runtime checks Java: a JVM start each,
    about a third of a second on a busy machine, nine per chaos restore before this was cached.
    """
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0" style
        major = int(match.group(2))
    return major


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (we try to bind it, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_ports(ports: dict[str, int]) -> None:
    """Fail with one line naming the first port that another process holds."""
    for owner, port in ports.items():
        if not port_is_free(port):
            raise RuntimeProblem(
                f"port {port} needed by {owner} is already in use by another process: "
                "stop that process or choose other ports (PIPELINE_KAFKA_PORTS, PIPELINE_POSTGRES_PORT, "
                "PIPELINE_CONSOLE_PORT)"
            )


def free_port() -> int:
    """A port the OS says is free right now (for tests that need their own cluster)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
