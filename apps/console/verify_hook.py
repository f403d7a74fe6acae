"""HOOK: the last reconciliation result (``manage.py verify``) for the Pipeline view.

``apps.verify.verify(kafka_settings, database_url)`` reads every entity topic from the
beginning, so it is far too expensive per request. The console runs it in a worker thread at
most once per ``interval_s`` and only while someone looks at the Pipeline view, and serves the
last report with its age. When ``apps.verify`` is not importable the view says so instead.
If ``verify`` later persists its last result somewhere, read that here instead of running it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from common.settings import KafkaSettings

Runner = Callable[[], Any]


def report_dict(report: Any) -> dict[str, Any]:
    """A ``VerifyReport`` (or anything similar) as JSON with its verdicts made explicit."""
    body = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else {"text": str(report)}
    for name in ("ok", "lag", "caught_up"):
        if hasattr(report, name):
            body[name] = getattr(report, name)
    for topic, row in zip(getattr(report, "topics", []), body.get("topics", []), strict=False):
        if isinstance(row, dict) and hasattr(topic, "ok"):
            row["ok"] = topic.ok
    return body


def production_runner(kafka: KafkaSettings, database_url: str) -> tuple[Runner | None, str]:
    """``verify`` against the pipeline's topics and tables, or ``None`` and why it is missing."""
    try:
        from apps.verify import verify
    except ImportError as exc:
        return None, f"apps.verify is not available ({exc}); see apps/console/verify_hook.py"
    return (lambda: verify(kafka, database_url)), ""


class VerifyHook:
    """Run ``verify`` lazily in the background and keep the last result."""

    def __init__(self, runner: Runner | None, unavailable: str = "", interval_s: float = 300.0) -> None:
        self.runner = runner
        self.unavailable = unavailable
        self.interval_s = interval_s
        self._last: dict[str, Any] | None = None
        self._finished = 0.0
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        assert self.runner is not None
        started = time.monotonic()
        try:
            result = {"state": "ok", "report": report_dict(self.runner())}
        except Exception as exc:  # noqa: BLE001 - a failed verify is shown, not raised
            result = {"state": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        result |= {"finished_at": datetime.now(UTC).isoformat(), "took_s": round(time.monotonic() - started, 1)}
        with self._lock:
            self._last, self._finished, self._worker = result, time.monotonic(), None

    def last(self) -> dict[str, Any]:
        """The last result (``state`` ok / error / running / unavailable); starts a run when due."""
        if self.runner is None:
            return {"state": "unavailable", "detail": self.unavailable}
        with self._lock:
            due = self._last is None or time.monotonic() - self._finished > self.interval_s
            if due and self._worker is None:
                self._worker = threading.Thread(target=self._run, name="verify", daemon=True)
                self._worker.start()
            running = self._worker is not None
            if self._last is None:
                return {"state": "running", "detail": "the first reconciliation is running..."}
            return {**self._last, "running": running, "age_s": round(time.monotonic() - self._finished, 1)}
