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
