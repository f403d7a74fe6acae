"""A child Python process that answers each JSON line on its stdin with one JSON line, time-boxed.

The console runs calls that can abort a process (librdkafka #4605) in such a child. Reading is
done with ``select`` against a deadline, so a hung child costs one timeout; a child that hangs
is killed, and one that died is reaped and reported with its signal (``killed by SIGABRT``).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

from common.settings import PROJECT_ROOT


class ChildFailed(Exception):
    """The child could not be started, died, or did not answer in time."""


def exit_reason(code: int) -> str:
    """``killed by SIGABRT`` for a negative return code (librdkafka's assertions abort), else the code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


class JsonChild:
    """``python -m <module>`` started by ``start``; ``ask`` sends one message and waits for the answer."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self.process
        return process.pid if process is not None and process.poll() is None else None

    def exited(self) -> str | None:
        """Why a started child is no longer running (``None`` while it runs or before it starts)."""
        code = self.process.poll() if self.process is not None else None
        return None if code is None else exit_reason(code)

    def start(self, first: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Start the child, send ``first`` (its configuration) and return its first answer."""
        self._buffer = b""
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )  # stderr stays ours: an abort message lands in the console's log
        except OSError as exc:
            raise ChildFailed(f"cannot start {self.module} ({exc})") from None
        return self.ask(first, timeout_s)

    def ask(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send ``message``; the child's answer, or ``ChildFailed`` after ``timeout_s``."""
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise ChildFailed(f"the child is gone ({exc})") from None
        return self._read(time.monotonic() + timeout_s)

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ChildFailed("the child did not answer in time")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise ChildFailed(f"the child exited ({exit_reason(self.process.wait(5))})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def stop(self) -> None:
        """Kill the child (ours, by its handle) and reap it; nothing happens when it is not running."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
