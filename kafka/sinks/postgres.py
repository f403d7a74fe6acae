"""PostgreSQL sink: one batch, one transaction, one version-guarded upsert.

Driver errors are translated in one place (``translate``): an error caused by the data (SQLSTATE
class 22 data exception, 23 integrity violation) is terminal for that record; every other
database error (connection lost, server shutting down, lock/serialization failure, even a
missing table while migrations run) is transient, because it goes away without touching the
event. Anything that is not a database error is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from pydantic import BaseModel
from sqlalchemy import Engine, Table
from sqlalchemy import exc as sa_exc

from database.crud import Method, UpsertResult, upsert_latest
from database.database import make_engine
from kafka.sinks.base import Sink
from kafka.sinks.errors import SinkError, TerminalSinkError, TransientSinkError

TERMINAL_SQLSTATE_CLASSES = ("22", "23")
RowMapper = Callable[[Any], dict[str, Any]]


def translate(exc: BaseException) -> SinkError | None:
    """Map a database exception to transient/terminal; None when it is not a database error."""
    if isinstance(exc, sa_exc.DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if not exc.connection_invalidated and sqlstate[:2] in TERMINAL_SQLSTATE_CLASSES:
            return TerminalSinkError(f"{sqlstate} {_first_line(exc.orig)}")
        return TransientSinkError(f"{sqlstate or 'connection'} {_first_line(exc.orig)}".strip())
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return TransientSinkError(_first_line(exc))
    if isinstance(exc, psycopg.Error):  # COPY runs on the raw driver connection: SQLAlchemy does not wrap it
        sqlstate = exc.sqlstate or ""
        if sqlstate[:2] in TERMINAL_SQLSTATE_CLASSES:
            return TerminalSinkError(f"{sqlstate} {_first_line(exc)}")
        return TransientSinkError(f"{sqlstate or 'connection'} {_first_line(exc)}".strip())
    return None


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def event_row(event: BaseModel) -> dict[str, Any]:
    """The default mapping: payload fields plus the envelope's bookkeeping columns."""
    # __dict__, not dict(model): dict() probes ``keys`` through pydantic's slow __getattr__.
    row = dict(event.payload.__dict__)  # type: ignore[attr-defined]  # every envelope has a payload
    row.update(
        version=event.version,  # type: ignore[attr-defined]
        event_id=event.event_id,  # type: ignore[attr-defined]
        occurred_at=event.occurred_at,  # type: ignore[attr-defined]
        produced_at=event.produced_at,  # type: ignore[attr-defined]
    )
    return row


class PostgresSink(Sink[BaseModel]):
    """Write validated events into one table, newest version per entity winning."""

    def __init__(
        self,
        database_url: str,
        table: Table,
        to_row: RowMapper = event_row,
        method: Method = "copy",
        engine: Engine | None = None,
    ) -> None:
        super().__init__()
        self.table = table
        self.to_row = to_row
        self.method = method
        # No pre-ping: a dead connection fails the batch, which is retried on a fresh one anyway.
        self.engine = engine or make_engine(
            database_url, pool_size=1, pre_ping=False, connect_args={"connect_timeout": 5}
        )
        self.last_result = UpsertResult(0, 0, 0)

    def write(self, records: Sequence[BaseModel]) -> int:
        """One transaction: commit on success, roll back and raise a ``SinkError`` otherwise."""
        rows = [self.to_row(record) for record in records]
        try:
            with self.engine.begin() as conn:
                self.last_result = upsert_latest(conn, self.table, rows, self.method)
        except Exception as exc:
            translated = translate(exc)
            if translated is None:
                raise
            raise translated from exc
        return self.last_result.applied

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()
