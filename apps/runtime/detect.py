"""Pick the runtime: Docker where an engine answers, the local runtime everywhere else."""

from __future__ import annotations

import shutil
import subprocess

from common.settings import RuntimeSettings


def docker_engine_available(timeout_s: float = 5) -> bool:
    """True when ``docker info`` reaches an engine (a client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def choose_runtime(settings: RuntimeSettings) -> str:
    """``local`` or ``docker``: the explicit setting wins, ``auto`` asks for a Docker engine."""
    if settings.runtime != "auto":
        return settings.runtime
    return "docker" if docker_engine_available() else "local"
