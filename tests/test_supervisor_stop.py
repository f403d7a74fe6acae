"""``Supervisor.stop_all_of``: programs stop side by side, and a last one that ignores its stop
signal is killed after ``last_grace_s`` (what ``LocalRuntime.down`` does to the last broker).

Tiny sleeping programs under a private supervisord: no Kafka, no PostgreSQL.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from apps.runtime.supervisor import Program, Supervisor
from common.settings import PROJECT_ROOT

POLITE = [sys.executable, "-c", "import time; time.sleep(600)"]  # dies on SIGTERM at once
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ignoring SIGTERM', flush=True); time.sleep(600)"]  # fmt: skip
STOP_WAIT_S = 60  # supervisord's own stop timeout, then SIGKILL
NAMES = ["polite-1", "polite-2", "stubborn"]


@pytest.fixture
def supervisor():
    home = Path(tempfile.mkdtemp(prefix="pipeline-supervisor-"))
    supervisor = Supervisor(home / "supervisor", home / "logs", PROJECT_ROOT)
    programs = [Program(f"polite-{i}", POLITE, "g", start_s=0, stop_wait_s=STOP_WAIT_S) for i in (1, 2)]
    supervisor.write_config([*programs, Program("stubborn", STUBBORN, "g", start_s=0, stop_wait_s=STOP_WAIT_S)])
    supervisor.start_daemon({})
    try:
        for name in NAMES:
            supervisor.start(name)
        deadline = time.monotonic() + 30
        while "ignoring SIGTERM" not in supervisor.tail("stubborn") and time.monotonic() < deadline:
            time.sleep(0.05)  # a SIGTERM before its handler is set would end it at once
        yield supervisor
    finally:
        supervisor.stop_all_of(NAMES, last_grace_s=0)
        supervisor.shutdown()
        shutil.rmtree(home, ignore_errors=True)


def _pids(supervisor: Supervisor) -> list[int]:
    return [info["pid"] for info in supervisor.info()]


def test_the_last_one_standing_is_killed_after_the_grace(supervisor):
    pids = _pids(supervisor)
    started = time.monotonic()
    supervisor.stop_all_of(NAMES, last_grace_s=1.0)
    took = time.monotonic() - started
    assert {i["statename"] for i in supervisor.info()} == {"STOPPED"}
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert 1.0 <= took < STOP_WAIT_S  # the grace, then SIGKILL: not supervisord's stop timeout


def test_without_a_grace_a_stubborn_program_is_waited_for(supervisor):
    with pytest.raises(Exception, match="stubborn did not stop within 2s"):
        supervisor.stop_all_of(NAMES, timeout_s=2)
    states = {i["name"]: i["statename"] for i in supervisor.info()}
    assert states == {"polite-1": "STOPPED", "polite-2": "STOPPED", "stubborn": "STOPPING"}
