"""The consumers' PostgreSQL sink: the sink contract (``add``/``flush``) around ``database.writer``.

The consumer buffers valid records with ``add`` and calls ``flush`` at each checkpoint; the
writing itself (one transaction, error translation) is ``database.writer.BatchWriter``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table

from common.entities import RowMapper, event_row
from database.offsets import Checkpoint
from database.writer import BatchWriter
from kafka.sinks.base import Sink


class PostgresSink(Sink[BaseModel]):
    """Write validated events into one table, newest version per entity winning."""

    def __init__(self, database_url: str, table: Table, to_row: RowMapper = event_row, **options: Any) -> None:
        """``options``: ``BatchWriter``'s ``method``, ``engine`` and ``aggregate``."""
        super().__init__()
        self.writer = BatchWriter(database_url, table, to_row, **options)

    def write(self, records: Sequence[BaseModel], checkpoint: Checkpoint | None = None) -> int:
        """One transaction: commit on success, roll back and raise a ``SinkError`` otherwise."""
        return self.writer.write(records, checkpoint)

    def find_rejects(self) -> list[tuple[int, str]]:
        """Each buffered record alone, in a transaction that is rolled back."""
        return self.writer.find_rejects(self._buffer)

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """The group's offsets kept in PostgreSQL; a database error is transient."""
        return self.writer.stored_offsets(group_id, topic)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.writer.close()
