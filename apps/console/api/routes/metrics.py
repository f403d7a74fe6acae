"""``GET /metrics``: Prometheus' text format, the cluster and every service's figures in one scrape."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.console.api.deps import ContextDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(context: ContextDep) -> Response:
    """Brokers up, under-replicated partitions, lag per group and partition, and each service's metrics."""
    return Response(generate_latest(context.metrics), media_type=CONTENT_TYPE_LATEST)
