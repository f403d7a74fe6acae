"""``make start-all`` from a copy of the repository reaches a healthy pipeline; ``make down`` cleans up.

The copy runs on free ports with small seed sizes, so it never touches a pipeline the user has
running, nor the test session's own services.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from apps.runtime.checks import free_port, port_is_free
from common.settings import PROJECT_ROOT, RuntimeSettings

pytestmark = pytest.mark.slow
VENV = Path(sys.executable).parent.parent
POLL_S = 0.2  # between status calls: each one takes seconds already


def _copy_repo(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # tracked + new, not ignored
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _status(copy: Path, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "manage.py", "status", "--json"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout)


def _healthy(report: dict) -> bool:
    services = {s["name"]: s["state"] for s in report.get("services", [])}
    long_running = [n for n in services if n != "topic-init"]
    groups = report.get("consumer_groups", {})
    return (
        bool(services)
        and all(services[n] == "RUNNING" for n in long_running)
        and services.get("topic-init") == "EXITED"
        and "error" not in groups
        and all(len(g["members"]) == 3 for g in groups.values())
        and report.get("total_lag") == 0
    )


def test_start_all_reaches_a_healthy_pipeline_and_down_cleans_up(tmp_path_factory):
    copy = Path(tempfile.mkdtemp(prefix="pipeline-start-all-"))
    copy.chmod(0o755)
    ports = {
        "PIPELINE_KAFKA_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_KAFKA_CONTROLLER_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "PIPELINE_POSTGRES_PORT": str(free_port()),
        "PIPELINE_CONSOLE_PORT": str(free_port()),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")} | ports
    env |= {
        "PIPELINE_RUNTIME": "local",
        "PIPELINE_SEED_USERS": "300",
        "PIPELINE_SEED_PRODUCTS": "500",
        "PIPELINE_KAFKA_HEAP": "512m",
        "PIPELINE_KAFKA_LIBS_DIR": str(RuntimeSettings().kafka_libs_dir),
    }
    all_ports = [*json.loads(ports["PIPELINE_KAFKA_PORTS"]), *json.loads(ports["PIPELINE_KAFKA_CONTROLLER_PORTS"])]
    all_ports += [int(ports["PIPELINE_POSTGRES_PORT"]), int(ports["PIPELINE_CONSOLE_PORT"])]
    _copy_repo(copy)
    make = ["make", f"VENV={VENV}"]
    try:
        started = time.monotonic()
        result = subprocess.run([*make, "start-all"], cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "pipeline running" in result.stdout
        print(f"make start-all took {time.monotonic() - started:.0f}s")

        with urllib.request.urlopen(f"http://127.0.0.1:{ports['PIPELINE_CONSOLE_PORT']}/healthz", timeout=10) as r:
            assert r.status == 200

        deadline = time.monotonic() + 180
        report: dict = {}
        while time.monotonic() < deadline:
            report = _status(copy, env)
            if _healthy(report) and report["tables"]["users"] == 300 and report["tables"]["products"] == 500:
                break
            time.sleep(POLL_S)
        assert _healthy(report), json.dumps(report, indent=1)[:3000]

        deadline = time.monotonic() + 120  # the producer streams orders until the consumers have applied some
        while time.monotonic() < deadline and not report.get("tables", {}).get("orders"):
            time.sleep(POLL_S)
            report = _status(copy, env)
        stop = subprocess.run([*make, "stop-producer"], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (report := _status(copy, env)).get("total_lag") != 0:
            time.sleep(POLL_S)
        assert report["tables"]["orders"] > 0

        verify = subprocess.run([*make, "verify"], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]

        again = subprocess.run([*make, "start-all"], cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        # a second start-all duplicates nothing: the tables still match the topics exactly (the
        # restarted producer may have signed up new users meanwhile, so count >= the seed's 300)
        stop = subprocess.run([*make, "stop-producer"], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        verify = subprocess.run([*make, "verify"], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
        assert _status(copy, env)["tables"]["users"] >= 300
    finally:
        supervisor_pid = (
            (copy / ".runtime/supervisor/supervisord.pid").read_text().strip()
            if (copy / ".runtime/supervisor/supervisord.pid").exists()
            else None
        )
        down = subprocess.run([*make, "down"], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        leftovers = [
            p.info for p in psutil.process_iter(["pid", "cmdline"]) if str(copy) in " ".join(p.info["cmdline"] or [])
        ]
        shutil.rmtree(copy, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert supervisor_pid is None or not psutil.pid_exists(int(supervisor_pid))
    assert leftovers == []
    assert all(port_is_free(p) for p in all_ports)
