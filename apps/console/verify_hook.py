"""HOOK: the last reconciliation result (``manage.py verify``) for the Pipeline view.

Every ``verify`` run, from the command line, chaos, or here, stores its result in PostgreSQL
(``verify_results``, see ``apps/verify/state.py``); the view shows the latest with when it
finished. ``verify`` is incremental (it reads only messages since the last run), so the console
also starts one in a worker thread when the stored result is older than ``interval_s`` and
someone looks at the Pipeline view. When ``apps.verify`` is not importable the view says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from common.settings import KafkaSettings

Runner = Callable[[], Any]
Stored = Callable[[], dict[str, Any] | None]


def production_runner(kafka: KafkaSettings, database_url: str) -> tuple[Runner | None, Stored | None, str]:
    """``verify`` against the pipeline, the reader of its stored result, or ``None`` and why."""
    try:
        from apps.verify import verify
        from apps.verify.state import last_result
        from database.database import make_engine
    except ImportError as exc:
        return None, None, f"apps.verify is not available ({exc}); see apps/console/verify_hook.py"

    def stored() -> dict[str, Any] | None:
        engine = make_engine(database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                return last_result(conn)
        finally:
            engine.dispose()

    return (lambda: verify(kafka, database_url, wait_s=30)), stored, ""


class VerifyHook:
    """Serve the stored last result; refresh it in the background when it is older than ``interval_s``."""

    def __init__(self, runner: Runner | None, stored: Stored | None, unavailable: str = "",
                 interval_s: float = 300.0) -> None:  # fmt: skip
        self.runner, self.stored = runner, stored
        self.unavailable = unavailable
        self.interval_s = interval_s
        self._error: str | None = None
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        assert self.runner is not None
        try:
            self.runner()
            error = None
        except Exception as exc:  # noqa: BLE001 - a failed verify is shown, not raised
            error = f"{type(exc).__name__}: {exc}"[:300]
        with self._lock:
            self._error, self._worker = error, None

    def last(self) -> dict[str, Any]:
        """The last result (``state`` ok / error / running / unavailable); starts a run when due."""
        if self.runner is None or self.stored is None:
            return {"state": "unavailable", "detail": self.unavailable}
        try:
            result = self.stored()
        except Exception as exc:  # noqa: BLE001 - PostgreSQL down or not migrated: say so
            return {"state": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        age = None
        if result is not None:
            age = (datetime.now(UTC) - datetime.fromisoformat(result["finished_at"])).total_seconds()
        with self._lock:
            if (age is None or age > self.interval_s) and self._worker is None:
                self._worker = threading.Thread(target=self._run, name="verify", daemon=True)
                self._worker.start()
            running, error = self._worker is not None, self._error
        if error is not None:
            return {"state": "error", "detail": error, "running": running}
        if result is None:
            return {"state": "running", "detail": "the first reconciliation is running..."}
        return {"state": "ok", **result, "running": running, "age_s": round(age or 0.0, 1)}
