"""What a failed sink write means for the consumer: retry the batch, or set a record aside."""

from __future__ import annotations


class SinkError(Exception):
    """A write failed; the subclass says whether retrying can help."""


class TransientSinkError(SinkError):
    """The destination is unavailable (down, unreachable, overloaded): retry the same batch later.

    Nothing is committed while this is raised, so no event is skipped.
    """


class TerminalSinkError(SinkError):
    """The data itself is rejected (bad value, constraint): retrying the same record cannot help.

    The consumer isolates the offending record and sends it to the dead-letter topic.
    """


class RejectedRecords(TerminalSinkError):
    """Some records of the batch can never be applied; the rest can. Nothing was written.

    ``rejects`` holds (index in the batch, why, error_type) for each, e.g. ``version_conflict``.
    """

    def __init__(self, rejects: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(rejects)} record(s) rejected: {rejects[0][1]}" if rejects else "no record rejected")
        self.rejects = rejects


class FencedSinkError(SinkError):
    """Another member moved the batch's partitions' stored offsets: the batch was rolled back.

    The member must forget the batch and re-seek to the stored offsets; never retry it.
    """

    def __init__(self, message: str, partitions: list[int]) -> None:
        super().__init__(message)
        self.partitions = partitions
