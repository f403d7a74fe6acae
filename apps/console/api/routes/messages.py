"""Messages view: browse by partition and offset or newest first, search with filters, dead letters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from apps.console.api.deps import ContextDep, MessagesDep
from apps.console.dead_letters import recent_dead_letters
from apps.console.message_filter import FilterDep
from apps.console.message_reader import MAX_LIMIT

router = APIRouter(tags=["messages"])


@router.get("/api/topics/{name}/messages")
def browse(
    name: str,
    messages: MessagesDep,
    partition: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    order: Literal["newest", "oldest"] = "newest",
) -> dict[str, Any]:
    """``limit`` messages: newest first, or from ``offset`` (per partition) / the oldest onwards."""
    return messages.browse(name, partition, offset, limit, newest=order == "newest" and offset is None)


@router.get("/api/topics/{name}/messages/search")
def search(
    name: str,
    messages: MessagesDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    scan: Annotated[int, Query(ge=1, le=100_000)] = 5_000,
) -> dict[str, Any]:
    """Messages matching every filter given (key, header, value, since/until), newest first.

    Among the last ``scan`` of each partition, or the first ``scan`` from ``since``; ``scanned`` says how many.
    """
    if where.empty:
        raise HTTPException(422, "give at least one filter: key, header, value, since or until")
    return messages.search(name, where, limit, scan)


@router.get("/api/dead-letters")
def dead_letters(context: ContextDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    """Newest dead letters over every ``*-dlq`` topic with their reason headers, and counts per topic."""
    return recent_dead_letters(context.admin, context.messages, limit)
