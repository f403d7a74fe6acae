"""``/healthz`` for compose and supervisors, and ``/api/status`` for the page's header."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.console.api.deps import ClusterDep, TablesDep
from apps.console.errors import section

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The console process answers (it does not check Kafka or PostgreSQL: those are states, not failures)."""
    return {"status": "ok"}


@router.get("/api/status")
def status(cluster: ClusterDep, tables: TablesDep) -> dict[str, Any]:
    """Brokers up and PostgreSQL reachable, each with its own state."""
    brokers = cluster.brokers()
    kafka = {"state": "ok" if brokers["up"] else "unavailable", "up": brokers["up"], "brokers": brokers["count"]}
    if brokers["error"]:
        kafka["detail"] = brokers["error"]
    database = section(tables.tables)
    return {"kafka": kafka, "postgresql": {k: v for k, v in database.items() if k not in ("data", "count")}}
