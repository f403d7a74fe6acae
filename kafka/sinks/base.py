"""The sink contract: ``add`` buffers a record, ``flush`` writes the buffer, ``write`` is the one job.

A concrete sink only implements ``write(records)``, which must apply the records atomically
(all or nothing) and raise ``TransientSinkError`` or ``TerminalSinkError`` on failure. The
consumer calls ``flush`` at each checkpoint and commits Kafka offsets only after it returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

Record = TypeVar("Record")


class Sink(ABC, Generic[Record]):
    """Buffer records between checkpoints and write them in one go."""

    def __init__(self) -> None:
        self._buffer: list[Record] = []

    def add(self, record: Record) -> None:
        """Called for every valid record of the batch, in offset order."""
        self._buffer.append(record)

    @property
    def pending(self) -> int:
        """Records added since the last successful flush."""
        return len(self._buffer)

    def flush(self) -> int:
        """Called at each checkpoint; returns rows changed. On failure the buffer is kept for a retry."""
        if not self._buffer:
            return 0
        changed = self.write(self._buffer)
        self._buffer.clear()
        return changed

    def drop(self) -> None:
        """Forget the buffer (the partitions were revoked: Kafka redelivers to the new owner)."""
        self._buffer.clear()

    @abstractmethod
    def write(self, records: Sequence[Record]) -> int:
        """Apply ``records`` atomically; return how many rows changed."""

    def close(self) -> None:
        """Release connections; called once when the consumer stops."""
