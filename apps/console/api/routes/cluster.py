"""Cluster view: brokers with state, the KRaft controller quorum, partition health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.console.api.deps import ClusterDep, ContextDep
from apps.console.errors import section

router = APIRouter(prefix="/api/cluster", tags=["cluster"])


@router.get("")
def overview(cluster: ClusterDep) -> dict[str, Any]:
    """Brokers and partition health together (the quorum is separate: it can take seconds)."""
    return {"brokers": cluster.brokers(), "partitions": section(cluster.partition_health)}


@router.get("/brokers")
def brokers(cluster: ClusterDep) -> dict[str, Any]:
    """Every broker (``{data, count}``) with status up / down / not registered, and ``up``."""
    return cluster.brokers()


@router.get("/quorum")
def quorum(context: ContextDep) -> dict[str, Any]:
    """Controller quorum: leader, epoch, voters, follower lag (cached; ``unknown`` without local jars).

    A cached leader that is down now is reported as ``state: leader down``, never as the leader.
    """
    return context.quorum.get(down=context.cluster.down_ids())


@router.get("/partitions")
def partitions(cluster: ClusterDep) -> dict[str, Any]:
    """Under-replicated and offline partitions over all topics."""
    return cluster.partition_health()
