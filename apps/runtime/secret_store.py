"""The secrets folder: random passwords and keys made on first run, owner-only files (0600).

A secret reaches a process by its file (``*_PASSWORD_FILE`` settings) or its environment, never
by a command line: ``ps`` shows every process's arguments to every user.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only: mode 0600 from the first byte, never wider."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


class SecretStore:
    """Named passwords in one folder, each created once and then kept (rotate: see GUIDE/SECURITY.md)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.password"

    def password(self, name: str) -> str:
        """The password called ``name``; a random one is written the first time it is asked for."""
        path = self.path(name)
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24).encode())
        return path.read_text().strip()

    def values(self) -> list[str]:
        """Every password in the folder (the tests look for them in ``ps`` and in the logs)."""
        return [p.read_text().strip() for p in sorted(self.folder.glob("*.password"))]
