"""The sink contract: ``add`` buffers a record, ``flush`` writes the buffer, ``write`` is the one job.

A concrete sink only implements ``write(records, checkpoint)``, which must apply the records
and, when given, the ``Checkpoint`` (the batch's offsets) atomically, all or nothing, and raise
``TransientSinkError``, ``TerminalSinkError`` or ``FencedSinkError`` on failure. The consumer
calls ``flush`` at each checkpoint and commits Kafka offsets only after it returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from database.offsets import Checkpoint

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

    def flush(self, checkpoint: Checkpoint | None = None) -> int:
        """Called at each checkpoint; returns rows changed. On failure the buffer is kept for a retry.

        With a ``checkpoint`` the write happens even for an empty buffer (a batch of rejects
        still moves its offsets).
        """
        if not self._buffer and checkpoint is None:
            return 0
        changed = self.write(self._buffer, checkpoint)
        self._buffer.clear()
        return changed

    def remove(self, indices: set[int]) -> None:
        """Take records out of the buffer (they were dead-lettered); the others keep their order."""
        self._buffer = [record for i, record in enumerate(self._buffer) if i not in indices]

    def find_rejects(self) -> list[tuple[int, str]]:
        """After a ``TerminalSinkError``: (index, why) of each buffered record the destination refuses."""
        return []

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """Partition -> next offset kept by the destination itself (empty: it keeps none)."""
        return {}

    def drop(self) -> None:
        """Forget the buffer (the partitions were revoked: Kafka redelivers to the new owner)."""
        self._buffer.clear()

    @abstractmethod
    def write(self, records: Sequence[Record], checkpoint: Checkpoint | None = None) -> int:
        """Apply ``records`` (and ``checkpoint``) atomically; return how many rows changed."""

    def close(self) -> None:
        """Release connections; called once when the consumer stops."""
