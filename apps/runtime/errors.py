"""The one error type the runtime raises: a problem a person can fix, said in one line."""


class RuntimeProblem(Exception):
    """A missing tool, a busy port, an unreachable service: the message says what to do."""
