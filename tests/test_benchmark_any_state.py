"""``manage.py benchmark`` (what ``make benchmark-*`` runs) works from any state.

From the stopped state it starts Kafka and PostgreSQL as ``make up`` does and stops them again;
with them already up it stops nothing; a service that cannot start is one line, no traceback.
Runs on its own runtime folder and free ports, never the test session's services.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from apps.runtime.checks import free_port
from apps.runtime.reaper import start_reaper
from apps.runtime.supervisor import Supervisor
from common.settings import PROJECT_ROOT, RuntimeSettings

pytestmark = pytest.mark.slow


def _env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    return env | {
        "PIPELINE_RUNTIME": "local",
        "PIPELINE_RUNTIME_DIR": str(base),
        "PIPELINE_KAFKA_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_KAFKA_CONTROLLER_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_POSTGRES_PORT": str(free_port()),
        "PIPELINE_CONSOLE_PORT": str(free_port()),
        "PIPELINE_METRICS_BASE_PORT": "0",
        "PIPELINE_KAFKA_HEAP": "512m",
        "PIPELINE_KAFKA_LIBS_DIR": str(RuntimeSettings().kafka_libs_dir),
        "PIPELINE_SEED_USERS": "300",
        "PIPELINE_SEED_PRODUCTS": "500",
    }


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "manage.py", *args]
    return subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)


def _running(base: Path) -> set[str]:
    supervisor = Supervisor(base / "supervisor", base / "logs", PROJECT_ROOT)
    return {i["name"] for i in supervisor.info() if i["statename"] == "RUNNING"}


def test_benchmarks_start_what_they_need_and_leave_the_services_as_found() -> None:
    base = Path(tempfile.mkdtemp(prefix="pipeline-bench-state-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root
    reaper = start_reaper(base)
    env = _env(base)
    try:
        # a port taken by someone else: one clear line, nothing left running
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", int(env["PIPELINE_POSTGRES_PORT"])))
            taken.listen()
            failed = _manage(env, "benchmark", "sink", "--no-kafka", "--rows", "500")
        assert failed.returncode == 2, failed.stdout + failed.stderr
        assert "error:" in failed.stdout and "Traceback" not in failed.stdout + failed.stderr
        assert not _running(base)

        # from the stopped state: started for the run, stopped afterwards
        cold = _manage(env, "benchmark", "producer", "--events", "1000", "--rounds", "1")
        assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr[-3000:]
        assert "starting Kafka and PostgreSQL" in cold.stdout and "wrapper / raw" in cold.stdout
        assert not _running(base), "the benchmark left services running that it had started"

        # with the services up: nothing is started, nothing is stopped
        up = _manage(env, "up")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        warm = _manage(env, "benchmark", "sink", "--no-kafka", "--rows", "1000")
        assert warm.returncode == 0, warm.stdout[-3000:] + warm.stderr[-3000:]
        assert "starting" not in warm.stdout and "raw COPY" in warm.stdout
        assert {"kafka-1", "kafka-2", "kafka-3", "postgres"} <= _running(base)
    finally:
        _manage(env, "down")
        reaper.kill()
        reaper.wait()
        shutil.rmtree(base, ignore_errors=True)
