"""The state store: what verify has read, kept in PostgreSQL between runs (migration 0002).

``verify_positions``  per reader and partition, the next offset to read;
``verify_entities``   per source topic and entity, latest version, event id and content digest;
``verify_dead_letters`` source positions that failed the schema or were dead-lettered;
``verify_folds``      a plug-in reconciler's JSON state;
``verify_results``    each finished run (the console shows the latest).

Readers save their state and positions in one transaction, so a crash mid-run loses nothing
and reads nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, desc, select
from sqlalchemy.dialects.postgresql import insert

from database.crud import _pg_type
from database.models import VerifyFold, VerifyPosition, VerifyResult

POSITIONS: Table = VerifyPosition.__table__  # type: ignore[assignment]
FOLDS: Table = VerifyFold.__table__  # type: ignore[assignment]
RESULTS: Table = VerifyResult.__table__  # type: ignore[assignment]
KEEP_RESULTS = 100


def load_positions(conn: Connection, reader: str) -> dict[tuple[str, int], int]:
    """``(topic, partition) -> next offset`` saved for ``reader`` (empty on its first run)."""
    rows = conn.execute(select(POSITIONS.c.topic, POSITIONS.c.partition, POSITIONS.c.next_offset).where(
        POSITIONS.c.reader == reader))  # fmt: skip
    return {(topic, partition): offset for topic, partition, offset in rows}


def save_positions(conn: Connection, reader: str, positions: dict[tuple[str, int], int]) -> None:
    """Upsert ``reader``'s positions inside the caller's transaction."""
    if not positions:
        return
    rows = [{"reader": reader, "topic": t, "partition": p, "next_offset": o} for (t, p), o in positions.items()]
    statement = insert(POSITIONS)
    keys, values = ["reader", "topic", "partition"], {"next_offset": statement.excluded.next_offset}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=values), rows)


def staged_upsert(conn: Connection, table: Table, rows: Sequence[Sequence[Any]], on_conflict: str) -> None:
    """Binary COPY ``rows`` (all columns, in order) into a temp table, then one ``INSERT ... ON CONFLICT``.

    ``on_conflict`` is the SQL after ``ON CONFLICT``; in it ``t`` is the table, ``excluded`` the row.
    A million entities take seconds this way, minutes as individual statements.
    """
    if not rows:
        return
    names = [c.name for c in table.columns]
    stage = f"_stage_{table.name}"
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table.name}") ON COMMIT DELETE ROWS')
        cur.execute(f'TRUNCATE "{stage}"')  # several readers stage rows in one transaction: start empty
        columns = ", ".join(f'"{n}"' for n in names)
        with cur.copy(f'COPY "{stage}" ({columns}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([_pg_type(table, n) for n in names])
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f'INSERT INTO "{table.name}" AS t ({columns}) SELECT {columns} FROM "{stage}" ON CONFLICT {on_conflict}'
        )


def load_fold(conn: Connection, name: str) -> Any:
    """A plug-in's saved JSON state, or None on its first run."""
    return conn.execute(select(FOLDS.c.state).where(FOLDS.c.name == name)).scalar_one_or_none()


def save_fold(conn: Connection, name: str, state: Any) -> None:
    """Replace a plug-in's JSON state inside the caller's transaction."""
    statement = insert(FOLDS).values(name=name, state=state)
    conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"state": statement.excluded.state}))


def save_result(conn: Connection, took_s: float, exit_code: int, report: dict[str, Any]) -> None:
    """Record a finished run and forget all but the last ``KEEP_RESULTS``."""
    conn.execute(RESULTS.insert().values(took_s=took_s, exit_code=exit_code, report=report))
    oldest_kept = select(RESULTS.c.id).order_by(desc(RESULTS.c.id)).offset(KEEP_RESULTS).limit(1).scalar_subquery()
    conn.execute(delete(RESULTS).where(RESULTS.c.id <= oldest_kept))


def last_result(conn: Connection) -> dict[str, Any] | None:
    """The latest run: ``finished_at`` (ISO 8601), ``took_s``, ``exit_code`` and ``report``."""
    row = conn.execute(select(RESULTS).order_by(desc(RESULTS.c.id)).limit(1)).mappings().first()
    if row is None:
        return None
    return {"finished_at": row["finished_at"].isoformat(), "took_s": row["took_s"],
            "exit_code": row["exit_code"], "report": row["report"]}  # fmt: skip
