"""Pipeline view: events/s produced and applied, lag, rows per table, dead letters, verify."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from apps.console.api.deps import ContextDep, TablesDep
from apps.console.errors import section
from kafka.topics import CONSUMER_GROUPS

router = APIRouter(prefix="/api/pipeline", tags=["pipeline"])


@router.get("")
def summary(context: ContextDep) -> dict[str, Any]:
    """Latest rates and lag of the pipeline's groups, rows per table, verify; each part has its own state."""
    points = list(context.sampler.points)
    latest = next((p for p in reversed(points) if not p["error"]), None)
    lag = {g: latest["lag"].get(g) for g in CONSUMER_GROUPS.values()} if latest else {}
    last_error = points[-1]["error"] if points else None
    known = [v for v in lag.values() if v is not None]
    return {
        "rates": {
            "state": "ok" if latest else "waiting",
            "latest": latest,
            "error": last_error,
        },
        "lag": {"groups": lag, "total": sum(known) if known else None},
        "tables": section(context.tables.tables),
        "verify": context.verify.last(),
    }


@router.get("/series")
def series(context: ContextDep, last: Annotated[int | None, Query(ge=1, le=1000)] = None) -> dict[str, Any]:
    """The ring buffer: per point ``produced``/``applied`` events/s per topic and ``lag`` per group."""
    return context.sampler.series(last)


@router.get("/tables")
def tables(tables: TablesDep) -> dict[str, Any]:
    """Rows per entity table and the end-to-end latency of the last minute (``missing`` tables too)."""
    return tables.tables()


@router.get("/verify")
def verify(context: ContextDep) -> dict[str, Any]:
    """The last reconciliation (``manage.py verify``), refreshed in the background every few minutes."""
    return context.verify.last()
