"""Bring the database to the newest schema: ``python -m apps.pipeline.migrate`` (topic-init's first step).

``make migrate`` and ``make up`` call ``database.migrate.upgrade`` in process; containers and
Kubernetes jobs run this module, which waits for the database and then applies Alembic's head.
"""

from __future__ import annotations

from common.settings import DatabaseSettings, load
from database.migrate import upgrade


def main() -> None:
    """Upgrade the database named by ``PIPELINE_DATABASE_URL`` (or ``PIPELINE_POSTGRES_*``) to head."""
    upgrade(load(DatabaseSettings).url)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
