"""The database side of the consumers' sink: one batch, one transaction: conflicts, aggregates, upsert, offsets.

The transaction sets aside events that conflict with an applied version (``RejectedRecords``,
nothing written), applies the version-guarded upsert (while a second thread builds the batch's
aggregate deltas, orders only), then adds the deltas and moves the group's stored offsets by
compare-and-set in one statement (``database/offsets.py``); a fenced batch rolls back whole
(``FencedSinkError``).

Driver errors are translated in one place (``translate``): an error caused by the data (SQLSTATE
class 22 data exception, 23 integrity violation) is terminal for that record; every other
database error (connection lost, server shutting down, lock/serialization failure, even a
missing table while migrations run) is transient, because it goes away without touching the
event. Anything that is not a database error is a bug and propagates.

Nothing here knows Kafka: ``kafka/sinks/postgres_sink.py`` adapts ``BatchWriter`` to the sink
contract (``add``/``flush``) the consumer drives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, Protocol

import psycopg
from pydantic import BaseModel
from sqlalchemy import Engine, Table, event
from sqlalchemy import exc as sa_exc

from common.entities import RowMapper, event_row
from database.crud import Method, UpsertResult, create_stage, stage_latest, upsert_latest, version_conflicts
from database.database import make_engine
from database.errors import FencedSinkError, RejectedRecords, SinkError, TerminalSinkError, TransientSinkError
from database.offsets import Checkpoint, OffsetFenced, advance, stored_offsets
from database.pipeline import driver

TERMINAL_SQLSTATE_CLASSES = ("22", "23")
# A member frozen mid-transaction (SIGSTOP, a long GC pause) holds row locks the partitions' new
# owner needs; PostgreSQL ends such a session after this long, so the group moves on.
IDLE_IN_TRANSACTION_MS = 10_000
Sums = tuple[str, dict[str, Any]]  # data-modifying CTEs and their parameters


class Deltas(Protocol):
    """What a batch adds to aggregate tables, applied after the upsert in its transaction."""

    def statement(self) -> Sums:
        """Data-modifying CTEs and their parameters ("" when nothing moves): they ride in the offsets' statement."""
        ...


class Aggregator(Protocol):
    """Deltas from a batch's rows and, for the keys it watches, their stored rows before the upsert."""

    columns: tuple[str, ...]  # stored columns it reads (with the version, by the version-conflict check)

    def watch(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """Keys whose stored row the deltas depend on."""
        ...

    def deltas(self, rows: Sequence[dict[str, Any]], stored: Mapping[Any, tuple[Any, ...]]) -> Deltas:
        """The batch's deltas; ``stored``: watched key -> (version, *columns), absent when never stored."""
        ...


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


def _limit_idle_transactions(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
    dbapi_connection.commit()


def _reraise(exc: BaseException) -> NoReturn:
    """Raise the ``SinkError`` for a database error; re-raise anything else (a bug) unchanged."""
    translated = translate(exc)
    if translated is None:
        raise exc
    raise translated from exc


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class BatchWriter:
    """Write validated events into one table, newest version per entity winning."""

    def __init__(
        self,
        database_url: str,
        table: Table,
        to_row: RowMapper = event_row,
        method: Method = "copy",
        engine: Engine | None = None,
        aggregate: Aggregator | None = None,
    ) -> None:
        self.table = table
        self.to_row = to_row
        self.method = method
        self.aggregate = aggregate
        # No pre-ping: a dead connection fails the batch, which is retried on a fresh one anyway.
        self.engine = engine or make_engine(
            database_url, pool_size=1, pre_ping=False, connect_args={"connect_timeout": 5}
        )
        event.listen(self.engine, "connect", _limit_idle_transactions)
        if method == "copy":
            event.listen(self.engine, "connect", lambda dbapi, record: create_stage(dbapi, record.info, table))
        self.last_result = UpsertResult(0, 0, 0)
        # With an aggregate, the batch's sums are built on this thread while the upsert is applied (``_beside``).
        self._sums_thread = ThreadPoolExecutor(1, f"sums-{table.name}") if aggregate is not None else None

    def write(self, records: Sequence[BaseModel], checkpoint: Checkpoint | None = None) -> int:
        """One transaction: commit on success, roll back and raise a ``SinkError`` otherwise."""
        rows = [self.to_row(record) for record in records]
        try:
            with self.engine.begin() as conn:
                aggregate = self.aggregate if rows else None
                watch = aggregate.watch(rows) if aggregate is not None else []
                columns = aggregate.columns if aggregate is not None else ()
                conflicts, stored = version_conflicts(conn, self.table, rows, watch, columns) if rows else ([], {})
                if conflicts:
                    raise RejectedRecords([(index, why, "version_conflict") for index, why in conflicts])
                staged = stage_latest(conn, self.table, rows, self.method)
                if aggregate is None:
                    self.last_result, (ctes, params) = staged.apply(), ("", {})
                else:
                    self.last_result, (ctes, params) = self._beside(
                        staged.apply, lambda: aggregate.deltas(rows, stored).statement()
                    )
                # One statement, synced on its own, never pipelined (database/pipeline.py): the
                # sums ride in the offsets' compare-and-set; their row locks are taken only there.
                if checkpoint is not None:
                    advance(conn, checkpoint, ctes, params)
                elif ctes:
                    driver(conn).execute(f"WITH {ctes} SELECT 1", params)
        except SinkError:
            raise
        except OffsetFenced as exc:
            raise FencedSinkError(str(exc), exc.partitions) from exc
        except Exception as exc:
            _reraise(exc)
        return self.last_result.applied

    def _beside(self, apply: Callable[[], UpsertResult], build: Callable[[], Sums]) -> tuple[UpsertResult, Sums]:
        """``build`` (the sums: Python only) on the worker thread while ``apply`` runs here.

        Applying is PostgreSQL's work (an ``INSERT ... SELECT`` of the staged rows): this thread
        waits for it with the GIL released, and the sums' picking, folding and arrays fit in that
        wait instead of following it. This side sends its statement first (the worker needs the
        GIL to start), so the wait begins at once. The sums read only what the conflict check read
        before the upsert; the connection stays on this thread.
        """
        assert self._sums_thread is not None
        built = self._sums_thread.submit(build)
        try:
            result = apply()
        finally:
            sums = built.result()  # a failed apply still waits: ``build`` ends before the transaction does
        return result, sums

    def find_rejects(self, records: Sequence[BaseModel]) -> list[tuple[int, str]]:
        """Each record alone, in a savepoint of a transaction that is then rolled back."""
        rejects = []
        try:
            with self.engine.connect() as conn, conn.begin() as transaction:
                for index, record in enumerate(records):
                    try:
                        with conn.begin_nested():
                            upsert_latest(conn, self.table, [self.to_row(record)], "values")
                    except sa_exc.DBAPIError as exc:
                        if not isinstance(translate(exc), TerminalSinkError):
                            raise
                        rejects.append((index, str(translate(exc))))
                transaction.rollback()
        except sa_exc.SQLAlchemyError as exc:
            _reraise(exc)
        return rejects

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """The group's offsets kept in PostgreSQL; a database error is transient."""
        try:
            with self.engine.connect() as conn:
                return stored_offsets(conn, group_id, topic)
        except Exception as exc:
            _reraise(exc)

    def close(self) -> None:
        """Stop the sums thread, dispose of the connection pool."""
        if self._sums_thread is not None:
            self._sums_thread.shutdown()
        self.engine.dispose()
