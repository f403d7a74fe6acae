"""Stop a runtime when the process that owns it dies, however it dies.

A test session that is killed or aborts (a librdkafka assertion, SIGKILL, Ctrl-C twice) never
runs its fixture teardown, and supervisord has daemonized away from it. The reaper, started in a
session of its own, waits for the owner's PID to vanish, then shuts that supervisord down, ends
the processes the owner had started (consumers a test ran itself), and removes the
runtime folder. ``python -m apps.runtime.reaper --owner PID --runtime-dir DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from apps.runtime.supervisor import Supervisor
from common.settings import PROJECT_ROOT


def reap(owner: int, runtime_dir: Path, poll_s: float = 1.0) -> None:
    """Block until ``owner`` exits, then clean up everything it left behind."""
    descendants: dict[int, psutil.Process] = {}
    try:
        parent = psutil.Process(owner)
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            found = {p.pid: p for p in parent.children(recursive=True) if p.pid != os.getpid()}
            descendants = found | descendants
            time.sleep(poll_s)
    except psutil.NoSuchProcess:
        pass
    supervisor = Supervisor(runtime_dir / "supervisor", runtime_dir / "logs", PROJECT_ROOT)
    try:
        supervisor.shutdown()
    except Exception as exc:  # noqa: BLE001 - best effort: report and go on with the rest
        print(f"reaper: supervisord shutdown failed: {exc}", file=sys.stderr)
    for process in descendants.values():  # only processes the owner started, never its parents
        with contextlib.suppress(psutil.Error):
            if process.is_running():
                process.terminate()
    shutil.rmtree(runtime_dir, ignore_errors=True)


def start_reaper(runtime_dir: Path) -> subprocess.Popen:
    """Watch this process: when it dies, ``runtime_dir``'s services are stopped and removed."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "apps.runtime.reaper",
            "--owner", str(os.getpid()), "--runtime-dir", str(runtime_dir),
        ],
        cwd=PROJECT_ROOT, start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # never hold a pipe open
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner", type=int, required=True)
    parser.add_argument("--runtime-dir", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the owner must not stop us
    reap(args.owner, args.runtime_dir)


if __name__ == "__main__":
    main()
