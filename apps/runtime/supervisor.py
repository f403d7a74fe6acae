"""supervisord as the local runtime's process supervisor: config, start, RPC control, shutdown.

One supervisord per runtime folder, reached over its own UNIX socket. Programs are declared
with ``autostart=false`` and started by name in dependency order; long-running ones restart
on crash, one-shots (``topic-init``) run once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from apps.runtime.errors import RuntimeProblem

RUNNING_STATES = {"RUNNING"}
DONE_STATES = {"EXITED", "STOPPED", "FATAL", "BACKOFF"}


@dataclass(frozen=True)
class Program:
    """One supervised process."""

    name: str
    command: list[str]
    group: str
    oneshot: bool = False
    user: str | None = None
    stop_signal: str = "TERM"
    stop_wait_s: int = 30
    start_s: int = 2
    env: tuple[tuple[str, str], ...] = ()  # this program's own variables (names and paths, never a secret)

    def render(self, log_dir: Path, cwd: Path) -> str:
        quoted = " ".join(_quote(part) for part in self.command)
        lines = [
            f"[program:{self.name}]",
            f"command={quoted}",
            f"directory={cwd}",
            "autostart=false",
            f"autorestart={'false' if self.oneshot else 'true'}",
            f"startsecs={0 if self.oneshot else self.start_s}",
            "startretries=100",
            f"stopsignal={self.stop_signal}",
            f"stopwaitsecs={self.stop_wait_s}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={log_dir / (self.name + '.log')}",
            "stdout_logfile_maxbytes=50MB",
            "stdout_logfile_backups=2",
        ]
        if self.user:
            lines.append(f"user={self.user}")
        if self.env:
            lines.append("environment=" + ",".join(f'{k}="{v.replace("%", "%%")}"' for k, v in self.env))
        return "\n".join(lines) + "\n"


def _quote(part: str) -> str:
    part = part.replace("%", "%%")  # supervisord expands %(...)s
    return f'"{part}"' if any(c in part for c in " \t'") else part


class Supervisor:
    """Control one supervisord instance that owns a runtime folder."""

    def __init__(self, home: Path, log_dir: Path, project_root: Path) -> None:
        self.home = home
        self.log_dir = log_dir
        self.project_root = project_root
        self.conf = home / "supervisord.conf"
        self.socket = home / "supervisord.sock"
        self.pidfile = home / "supervisord.pid"

    # --- lifecycle ----------------------------------------------------------------------------
    def write_config(self, programs: list[Program]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        header = f"""\
[unix_http_server]
file={self.socket}
chmod=0700

[supervisord]
logfile={self.home / "supervisord.log"}
pidfile={self.pidfile}
childlogdir={self.log_dir}
nodaemon=false
minfds=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.socket}

"""
        body = "\n".join(p.render(self.log_dir, self.project_root) for p in programs)
        self.conf.write_text(header + body)

    def pid(self) -> int | None:
        """Supervisord's PID when it is alive, else None (a stale pidfile is ignored)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def is_running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            self.rpc().supervisor.getState()
        except (OSError, xmlrpc.client.Fault):
            return False
        return True

    def start_daemon(self, env: dict[str, str]) -> None:
        """Start supervisord (it daemonizes) with ``env`` passed on to every program."""
        if self.is_running():  # already up: apply config changes without touching the rest
            added, changed, _removed = self.rpc().supervisor.reloadConfig()[0]
            self.stop_all_of(changed)
            for name in changed:
                self.rpc().supervisor.removeProcessGroup(name)
                self.rpc().supervisor.addProcessGroup(name)
            for name in added:
                self.rpc().supervisor.addProcessGroup(name)
            return
        supervisord = str(Path(sys.executable).with_name("supervisord"))
        subprocess.run([supervisord, "-c", str(self.conf)], check=True, env={**os.environ, **env})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.is_running():
                return
            time.sleep(0.2)
        raise RuntimeProblem(f"supervisord did not start: see {self.home / 'supervisord.log'}")

    def shutdown(self, timeout_s: float = 90) -> None:
        """Stop every program, then supervisord itself; wait until its PID is gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            self.rpc().supervisor.stopAllProcesses(True)
            self.rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        raise RuntimeProblem(f"supervisord (pid {pid}) did not stop within {timeout_s:.0f}s")

    # --- programs -----------------------------------------------------------------------------
    def rpc(self) -> xmlrpc.client.ServerProxy:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def start(self, name: str, wait: bool = True) -> None:
        """Start a program; starting one that already runs is not an error."""
        try:
            self.rpc().supervisor.startProcess(name, wait)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise RuntimeProblem(f"could not start {name}: {fault.faultString}; see 'make logs'") from None

    def stop(self, name: str) -> None:
        """Stop a program and wait for it; stopping one that does not run is not an error."""
        self._stop_process(self.rpc(), name, wait=True)

    @staticmethod
    def _stop_process(rpc: xmlrpc.client.ServerProxy, name: str, wait: bool) -> None:
        try:
            rpc.supervisor.stopProcess(name, wait)
        except xmlrpc.client.Fault as fault:  # not running, or (without wait) already stopping
            if "NOT_RUNNING" not in fault.faultString:
                raise RuntimeProblem(f"could not stop {name}: {fault.faultString}") from None

    def stop_all_of(self, names: list[str], timeout_s: float = 120, last_grace_s: float | None = None) -> None:
        """Stop ``names`` side by side: every stop signal is sent first, then all of them are waited for.

        One by one, each member's leave would wait for the group to rebalance around the previous one.
        ``last_grace_s``: the last one still stopping after the others is killed after that long
        (a KRaft node left alone has no quorum to shut down with: see ``LocalRuntime.down``).
        """
        rpc = self.rpc()
        for name in names:
            self._stop_process(rpc, name, wait=False)  # one already stopping is waited for below
        stopping, deadline, alone_since = list(names), time.monotonic() + timeout_s, None
        while stopping:
            infos = {i["name"]: i for i in rpc.supervisor.getAllProcessInfo()}
            stopping = [name for name in stopping if infos[name]["statename"] == "STOPPING"]
            if stopping and time.monotonic() > deadline:
                raise RuntimeProblem(f"{', '.join(stopping)} did not stop within {timeout_s:.0f}s")
            if last_grace_s is not None and len(stopping) == 1:
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > last_grace_s:  # STOPPING: supervisord signals no more
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(infos[stopping[0]]["pid"], signal.SIGKILL)
            time.sleep(0.1)

    def signal(self, name: str, sig: str) -> None:
        """Send a signal (e.g. ``KILL``, ``STOP``, ``CONT``) to one program's process."""
        self.rpc().supervisor.signalProcess(name, sig)

    def info(self) -> list[dict]:
        """State of every program: name, statename, pid, description, exitstatus."""
        if not self.is_running():
            return []
        return self.rpc().supervisor.getAllProcessInfo()

    def state(self, name: str) -> dict:
        return self.rpc().supervisor.getProcessInfo(name)

    def wait_oneshot(self, name: str, timeout_s: float = 120) -> None:
        """Wait for a one-shot program to exit; a non-zero exit is an error with its log's tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = self.state(name)
            if info["statename"] in DONE_STATES and info["statename"] != "BACKOFF":
                if info["exitstatus"] != 0 or info["statename"] == "FATAL":
                    tail = self.tail(name, 3).strip().replace("\n", " | ")
                    raise RuntimeProblem(f"{name} failed (exit {info['exitstatus']}): {tail}")
                return
            time.sleep(0.3)
        raise RuntimeProblem(f"{name} did not finish within {timeout_s:.0f}s")

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def tail(self, name: str, lines: int = 50) -> str:
        path = self.log_file(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
