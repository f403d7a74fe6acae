"""First-run setup of ``.env``: copied from ``.env.example`` with a fresh random password."""

from __future__ import annotations

import secrets
from pathlib import Path

from common.settings import ENV_FILE, PROJECT_ROOT


def ensure_env_file(path: Path = ENV_FILE, example: Path = PROJECT_ROOT / ".env.example") -> bool:
    """Create ``.env`` when missing; returns True when it was created. Existing files are kept."""
    if path.exists():
        return False
    lines = []
    for line in example.read_text().splitlines():
        if line.strip() == "PIPELINE_POSTGRES_PASSWORD=":
            line = f"PIPELINE_POSTGRES_PASSWORD={secrets.token_urlsafe(24)}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return True
