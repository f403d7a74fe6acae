"""Rows per table and end-to-end latency from PostgreSQL, with plain SQL and short timeouts.

The tables are named after the entity topics (``kafka/topics.py``). A table that does not exist
yet (migrations not run) is reported as ``missing``, not as an error. Latency is
``applied_at - produced_at`` of the rows applied in the last minute: how long an event took
from the producer to its row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from apps.console.errors import database_errors
from common.entities import ENTITIES
from database.database import describe, make_engine

TABLES = tuple(e.table for e in ENTITIES)

LATENCY_SQL = """
SELECT count(*) AS applied,
       avg(extract(epoch FROM applied_at - produced_at)) AS avg_s,
       max(extract(epoch FROM applied_at - produced_at)) AS max_s,
       max(applied_at) AS last_applied
FROM "{table}" WHERE applied_at > now() - interval '1 minute'
"""


class TableReader:
    """Row counts per entity table; one small pool shared by the console's requests."""

    def __init__(self, url: str, timeout_s: float = 4.0, engine: Engine | None = None) -> None:
        self.where = describe(url)
        self.timeout_ms = int(timeout_s * 1000)
        self.engine = engine or make_engine(url, pool_size=2, connect_args={"connect_timeout": max(1, int(timeout_s))})

    def _table(self, conn: Any, table: str) -> dict[str, Any]:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
            return {"table": table, "state": "missing", "rows": None}
        rows = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        row: dict[str, Any] = {"table": table, "state": "ok", "rows": rows}
        try:
            with conn.begin_nested():
                latency = conn.execute(text(LATENCY_SQL.format(table=table))).mappings().one()
        except ProgrammingError:  # an older schema without the bookkeeping columns
            return row
        row |= {
            "applied_last_minute": latency["applied"],
            "latency_avg_s": float(latency["avg_s"]) if latency["avg_s"] is not None else None,
            "latency_max_s": float(latency["max_s"]) if latency["max_s"] is not None else None,
            "last_applied_at": latency["last_applied"].isoformat() if latency["last_applied"] else None,
        }
        return row

    def tables(self) -> dict[str, Any]:
        """``{data, count}`` with one row per table; raises ``SourceUnavailable`` when PostgreSQL is down."""
        with database_errors(f"PostgreSQL at {self.where}"), self.engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {self.timeout_ms}"))
            data = [self._table(conn, table) for table in TABLES]
        return {"data": data, "count": len(data), "database": self.where}

    def close(self) -> None:
        self.engine.dispose()
