"""Apply Alembic migrations programmatically (``make migrate``, ``make up`` and ``apps/pipeline/migrate.py``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from database.database import wait_for_database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", timeout_s: float = 60.0) -> None:
    """Wait for the database, then upgrade it to ``revision``."""
    wait_for_database(url, timeout_s=timeout_s)
    command.upgrade(alembic_config(url), revision)
