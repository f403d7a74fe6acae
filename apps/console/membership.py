"""Consumer-group membership through a child process, so a librdkafka abort never ends the console.

There is no consumer-side way to read a group's members, so DescribeConsumerGroups stays, but
it runs in ``kafka/admin/membership_worker.py`` (see there for librdkafka #4605). Each call is
time-boxed; when the child dies or hangs it is killed, the answer says membership is
temporarily unavailable, the last description of each group is served marked ``stale``, and
a later call (at most every ``restart_after_s``) starts a new child.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from apps.console.child import ChildFailed, JsonChild
from common.settings import KafkaSettings
from kafka.config import client_config

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """Descriptions of the asked groups; ``state`` ok (fresh), stale (last known) or unavailable."""

    state: str
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    detail: str | None = None
    age_s: float | None = None

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "age_s": self.age_s}


class Membership:
    """Ask the child for group descriptions; remember the last answer per group."""

    def __init__(
        self, settings: KafkaSettings, timeout_s: float = 4.0, start_timeout_s: float = 20.0, restart_s: float = 3.0
    ) -> None:
        self.config = client_config(settings, "kafka-ui-groups") | {
            "socket.connection.setup.timeout.ms": int(timeout_s * 1000)
        }
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.restart_s = restart_s
        self.child = JsonChild("kafka.admin.membership_worker")
        self._failed_at = float("-inf")
        self._failure = ""
        self._last: dict[str, tuple[dict[str, Any], float]] = {}  # group -> (description, monotonic time)
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (tests kill it to check the recovery)."""
        return self.child.pid

    def _fail(self, reason: str) -> ChildFailed:
        self._failure, self._failed_at = f"the membership worker failed: {reason}", time.monotonic()
        self.child.stop()
        return ChildFailed(self._failure)

    def _call(self, group_ids: list[str]) -> dict[str, dict[str, Any]]:
        """One request; a child that died since the last call is reported first, restarted later."""
        if (reason := self.child.exited()) is not None:
            raise self._fail(reason)
        if self.child.process is None and time.monotonic() - self._failed_at < self.restart_s:
            raise ChildFailed(f"{self._failure}; restarting in a moment")
        try:
            if self.child.process is None:
                self.child.start(self.config, self.start_timeout_s)
            answer = self.child.ask({"groups": group_ids, "timeout_s": self.timeout_s}, self.timeout_s + 2)
        except ChildFailed as exc:
            raise self._fail(str(exc)) from None
        if "error" in answer:
            raise ChildFailed(answer["error"])
        return answer["groups"]

    def describe(self, group_ids: list[str], max_age_s: float = 0.0) -> Snapshot:
        """Descriptions of ``group_ids``; answers younger than ``max_age_s`` are reused without asking."""
        now = time.monotonic()
        cached = {g: self._last.get(g) for g in group_ids}
        if max_age_s > 0 and all(c is not None and now - c[1] <= max_age_s for c in cached.values()):
            return Snapshot("ok", {g: c[0] for g, c in cached.items() if c is not None})
        if not self._lock.acquire(timeout=self.start_timeout_s + self.timeout_s + 2):
            return self._stale(group_ids, "the membership worker is busy")
        try:
            fresh = self._call(group_ids)
        except ChildFailed as exc:
            log.warning("consumer-group membership unavailable: %s", exc)
            return self._stale(group_ids, str(exc))
        finally:
            self._lock.release()
        at = time.monotonic()
        self._last |= {g: (d, at) for g, d in fresh.items() if d.get("error") is None}
        return Snapshot("ok", fresh)

    def _stale(self, group_ids: list[str], reason: str) -> Snapshot:
        known = {g: self._last[g] for g in group_ids if g in self._last}
        if not known:
            return Snapshot("unavailable", {}, f"membership temporarily unavailable: {reason}")
        oldest = max(time.monotonic() - at for _, at in known.values())
        detail = f"membership temporarily unavailable ({reason}); showing the last known members"
        return Snapshot("stale", {g: d for g, (d, _) in known.items()}, detail, round(oldest, 1))

    def close(self) -> None:
        """Stop the child (the app is shutting down)."""
        with self._lock:
            self.child.stop()
