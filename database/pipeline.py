"""The driver (psycopg 3) connection under a SQLAlchemy transaction, for the sink's hot statements.

Every statement of a batch (the version-conflict check, the COPY and the upsert from it, the sums' upserts,
the offsets' compare-and-set) runs on the driver connection, in the caller's transaction: arrays go
in PostgreSQL's binary format (``%b``), which SQLAlchemy's ``execute`` cannot ask for, and each
statement skips SQLAlchemy's own execution path (0.3 ms of CPU a statement on this machine).

Why never psycopg's pipeline mode for them: a pipelined statement is sent at once and runs, taking
its row locks, but the server only reports the session ``idle in transaction`` (and only then arms
``idle_in_transaction_session_timeout``) after the pipeline's Sync. A member frozen between the two
(SIGSTOP, a long pause) kept its rows and sums locked with no timeout at all, and the member that
took over its partitions waited on them for good (the zombie test's flake). Each statement sent on
its own carries its Sync, so a frozen member's transaction always ends after the timeout.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import Connection


def driver(conn: Connection) -> psycopg.Connection:
    """The psycopg connection behind ``conn`` (same session, same transaction)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection), "the sink's engine uses psycopg 3"
    return raw
