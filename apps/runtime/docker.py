"""The Docker runtime: the same service names and commands, through ``dc.sh`` (docker compose)."""

from __future__ import annotations

import json
import subprocess
from typing import Literal

from apps.runtime import services as svc
from apps.runtime.errors import RuntimeProblem
from common.settings import PROJECT_ROOT, ScaleSettings

DC = str(PROJECT_ROOT / "dc.sh")
SCALE_FILE = PROJECT_ROOT / "deploy" / "docker-compose.scale.json"  # generated, git-ignored; dc.sh adds it
GROUPS = {
    "kafka": list(svc.KAFKA_SERVICES),
    "database": list(svc.DATABASE_SERVICES),
    "consumers": [s.name for s in svc.consumer_services()],
    "producer": [svc.PRODUCER.name],
    "console": [svc.CONSOLE.name],
}


def scale_override(instances: int) -> dict | None:
    """Compose services for members beyond the three per group that docker-compose.yml defines.

    Each extends its group's first member and runs the catalogue's command for its number.
    """
    extra = [s for s in svc.consumer_services(instances) if int(s.args[-1]) > svc.INSTANCES_PER_GROUP]
    if not extra:
        return None
    after_init = {"topic-init": {"condition": "service_completed_successfully"}}
    after_init["postgres"] = {"condition": "service_healthy"}
    services = {
        s.name: {
            "extends": {"file": "docker-compose.yml", "service": s.name.rsplit("-", 1)[0] + "-1"},
            "command": ["python", "-m", s.module, *s.args],
            "depends_on": after_init,
        }
        for s in extra
    }
    return {"services": services}


def write_scale_file(instances: int) -> None:
    """Write (or remove, at three or fewer instances) the override ``dc.sh`` picks up."""
    override = scale_override(instances)
    if override is None:
        SCALE_FILE.unlink(missing_ok=True)
    else:
        SCALE_FILE.write_text(json.dumps(override, indent=2) + "\n")  # JSON is YAML to compose


def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dc.sh ARGS``; a failure is a one-line error naming the command."""
    result = subprocess.run([DC, *args], cwd=PROJECT_ROOT, check=False)
    if check and result.returncode != 0:
        raise RuntimeProblem(f"'dc.sh {' '.join(args)}' failed with exit {result.returncode}")
    return result


class DockerRuntime:
    """Start, stop and inspect the compose services."""

    kind: Literal["local", "docker"] = "docker"

    def __init__(self, scale: ScaleSettings | None = None) -> None:
        instances = (scale or ScaleSettings()).consumer_instances
        write_scale_file(instances)
        self.groups = GROUPS | {"consumers": [s.name for s in svc.consumer_services(instances)]}

    def up(self) -> None:
        """Brokers and PostgreSQL healthy, topics created (compose orders it by depends_on)."""
        compose("up", "-d", "--wait", *self.groups["kafka"], *self.groups["database"], *self.groups["console"])
        compose("up", "--no-deps", "--exit-code-from", "topic-init", "topic-init")

    def start_group(self, group: str) -> None:
        compose("up", "-d", "--no-deps", *self.groups[group])

    def stop_group(self, group: str) -> None:
        compose("stop", *self.groups[group])

    def run_oneshot(self, module: str, *args: str) -> None:
        compose("run", "--rm", "--no-deps", "producer", "python", "-m", module, *args)

    def down(self, volumes: bool = False) -> None:
        compose("down", "--remove-orphans", *(["-v"] if volumes else []))

    def ps(self) -> None:
        compose("ps", "-a")

    def services(self) -> list:
        """None listed here: ``compose ps`` reports the containers (``make ps``)."""
        return []

    def child_env(self, role: object = None) -> dict[str, str]:
        """Nothing to add: compose gives each container its settings."""
        return {}

    def logs(self, names: list[str], follow: bool) -> None:
        compose("logs", "--tail=200", *(["-f"] if follow else []), *names, check=False)
