"""Engine and sessions for PostgreSQL (psycopg 3 driver), and a readiness check with a clear error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached; the message names the server and the reason in one line."""


def make_engine(url: str, pool_size: int = 5, pre_ping: bool = True, **kwargs: object) -> Engine:
    """An engine with pre-ping, so a restarted server costs one retry instead of an error.

    Callers that retry failed transactions themselves (the sink) switch it off: it is one more
    round trip per checkout.
    """
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping, **kwargs)


def describe(url: str) -> str:
    """host:port/db of a URL, without the password, for error messages."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}/{parsed.database}"


def wait_for_database(url: str, timeout_s: float = 30.0) -> None:
    """Return once ``SELECT 1`` works; otherwise raise ``DatabaseUnavailable`` after the timeout."""
    engine = make_engine(url, pool_size=1, connect_args={"connect_timeout": 3})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except OperationalError as exc:
                if time.monotonic() >= deadline:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    raise DatabaseUnavailable(
                        f"cannot connect to PostgreSQL at {describe(url)} "
                        f"(PIPELINE_DATABASE_URL / PIPELINE_POSTGRES_*): {reason}"
                    ) from None
                time.sleep(0.5)
    finally:
        engine.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on clean exit, roll back and re-raise otherwise."""
    with factory() as session, session.begin():
        yield session
