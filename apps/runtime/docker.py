"""The Docker runtime: the same service names and commands, through ``dc.sh`` (docker compose)."""

from __future__ import annotations

import subprocess

from apps.runtime import services as svc
from apps.runtime.errors import RuntimeProblem
from common.settings import PROJECT_ROOT

DC = str(PROJECT_ROOT / "dc.sh")
GROUPS = {
    "kafka": list(svc.KAFKA_SERVICES),
    "database": list(svc.DATABASE_SERVICES),
    "consumers": [s.name for s in svc.consumer_services()],
    "producer": [svc.PRODUCER.name],
    "console": [svc.CONSOLE.name],
}


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dc.sh ARGS``; a failure is a one-line error naming the command."""
    result = subprocess.run([DC, *args], cwd=PROJECT_ROOT, check=False)
    if check and result.returncode != 0:
        raise RuntimeProblem(f"'dc.sh {' '.join(args)}' failed with exit {result.returncode}")
    return result


class DockerRuntime:
    """Start, stop and inspect the compose services."""

    def up(self) -> None:
        """Brokers and PostgreSQL healthy, topics created (compose orders it by depends_on)."""
        compose("up", "-d", "--wait", *GROUPS["kafka"], *GROUPS["database"], *GROUPS["console"])
        compose("up", "--no-deps", "--exit-code-from", "topic-init", "topic-init")

    def start_group(self, group: str) -> None:
        compose("up", "-d", "--no-deps", *GROUPS[group])

    def stop_group(self, group: str) -> None:
        compose("stop", *GROUPS[group])

    def run_oneshot(self, module: str, *args: str) -> None:
        compose("run", "--rm", "--no-deps", "producer", "python", "-m", module, *args)

    def down(self, volumes: bool = False) -> None:
        compose("down", "--remove-orphans", *(["-v"] if volumes else []))

    def ps(self) -> None:
        compose("ps", "-a")

    def logs(self, names: list[str], follow: bool) -> None:
        compose("logs", "--tail=200", *(["-f"] if follow else []), *names, check=False)
