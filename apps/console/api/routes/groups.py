"""Consumer groups view: state, members, partitions with committed offset and lag, lag over time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.console.api.deps import ContextDep, GroupsDep

router = APIRouter(prefix="/api/groups", tags=["groups"])


@router.get("")
def list_groups(groups: GroupsDep) -> dict[str, Any]:
    """Every group with state, member count, topics and total lag."""
    return groups.groups()


@router.get("/{group_id}")
def get_group(group_id: str, groups: GroupsDep, context: ContextDep) -> dict[str, Any]:
    """One group: members with assigned partitions, per-partition lag, and its lag history."""
    detail = groups.group(group_id)
    history = [{"t": p["t"], "lag": p["lag"].get(group_id)} for p in context.sampler.points if group_id in p["lag"]]
    return detail | {"lag_history": {"data": history, "count": len(history)}}
