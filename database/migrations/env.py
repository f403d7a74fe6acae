"""Alembic environment: online migrations against the URL set by ``database.migrate``.

A PostgreSQL advisory lock serialises concurrent upgrades (nine consumers may start at once).
"""

from alembic import context
from sqlalchemy import create_engine, pool, text

from database.models import Base

MIGRATION_LOCK_ID = 7_202_611  # any constant shared by every migrating process

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            context.run_migrations()
    engine.dispose()


run_migrations_online()
