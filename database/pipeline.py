"""The driver (psycopg 3) connection under a SQLAlchemy transaction, for the sink's hot statements.

The exactly-once extras of a batch (the sums' upserts, the offsets' compare-and-set) run on the
driver connection, in the caller's transaction: arrays go in PostgreSQL's binary format (``%b``),
which SQLAlchemy's ``execute`` cannot ask for, and ``pipeline`` sends the queued statements
in one round trip, syncing when the block ends (psycopg's pipeline mode; blocks nest).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection


def driver(conn: Connection) -> psycopg.Connection:
    """The psycopg connection behind ``conn`` (same session, same transaction)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection), "the sink's engine uses psycopg 3"
    return raw


@contextmanager
def pipeline(conn: Connection) -> Iterator[psycopg.Connection]:
    """Queue statements until the block ends, then send them at once; an error raises at the end."""
    raw = driver(conn)
    with raw.pipeline():
        yield raw
