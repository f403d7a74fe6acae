"""What the local runtime needs from the machine (Java 17+, Maven, the PostgreSQL server), and getting it.

On a fresh Debian or Ubuntu machine with only Python, ``make start-all`` run as root installs the
missing packages with apt-get (as ``.ci/run`` does); anyone else gets the one command to run.
Only what this runtime will start is asked for: no Java or Maven when Kafka is external, no
PostgreSQL server when ``PIPELINE_DATABASE_URL`` points elsewhere, no Maven once the jars are there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from apps.runtime.checks import java_binary
from apps.runtime.errors import RuntimeProblem
from apps.runtime.postgres_server import find_bindir

JAVA_PACKAGES = ("openjdk-17-jre-headless", "default-jre-headless")  # the first one apt knows; 17+ either way
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def _has(check: Callable[[], object]) -> bool:
    try:
        check()
    except RuntimeProblem:
        return False
    return True


def missing(kafka: bool, maven: bool, postgres: bool) -> list[str]:
    """Names of what is missing among what this start needs: ``java``, ``maven``, ``postgresql``."""
    needs = []
    if kafka and not _has(java_binary):
        needs.append("java")
    if kafka and maven and shutil.which("mvn") is None:
        needs.append("maven")
    if postgres and not _has(find_bindir):
        needs.append("postgresql")
    return needs


def _apt_knows(package: str) -> bool:
    result = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, check=False)
    return result.returncode == 0 and b"Package:" in result.stdout


def apt_packages(needs: list[str]) -> list[str]:
    """Debian package names for ``needs``: Java is openjdk-17 where apt has it, else the default JRE."""
    packages = []
    if "java" in needs:
        packages.append(next((p for p in JAVA_PACKAGES if _apt_knows(p)), JAVA_PACKAGES[0]))
    return packages + [n for n in needs if n != "java"]  # maven and postgresql are the package names


def ensure(needs: list[str], is_root: bool | None = None, run: Callable[..., object] = subprocess.run) -> list[str]:
    """Install ``needs`` with apt-get when root on Debian/Ubuntu; otherwise one line saying how.

    Returns the packages installed (empty when nothing was missing).
    """
    if not needs:
        return []
    is_root = os.geteuid() == 0 if is_root is None else is_root
    apt = shutil.which("apt-get") is not None
    if not (is_root and apt):
        packages = " ".join(apt_packages(needs))
        how = f"sudo apt-get install -y --no-install-recommends {packages}" if apt else f"install {packages}"
        raise RuntimeProblem(f"{', '.join(needs)} missing for the local runtime: run '{how}', then start again")
    env = {**os.environ, **APT_ENV}
    try:
        run(["apt-get", "update", "-qq"], check=True, env=env)
        packages = apt_packages(needs)
        print(f"installing {' '.join(packages)} with apt-get (missing: {', '.join(needs)}) ...", flush=True)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)
    except subprocess.CalledProcessError as exc:
        raise RuntimeProblem(f"apt-get failed (exit {exc.returncode}) installing {', '.join(needs)}") from None
    return packages
