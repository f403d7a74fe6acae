"""Live tail of a topic as server-sent events: ``GET /api/topics/{name}/tail``.

Events: one ``ready`` (the partitions and the offsets the tail starts at), then one unnamed
event per message (the JSON of the Messages view), and a comment every few seconds so proxies
keep the stream open. The stream ends when the client goes away, or after ``limit`` messages
or ``max_s`` seconds when given. Pausing is the page's business: it keeps the stream and holds
the rows back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from apps.console.api.deps import MessagesDep
from apps.console.message_filter import FilterDep
from apps.console.tail import Follower

router = APIRouter(tags=["messages"])
HEARTBEAT_S = 10.0


def _event(data: object, name: str | None = None) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data, default=str)}\n\n"


@router.get("/api/topics/{name}/tail")
async def tail(
    name: str,
    request: Request,
    messages: MessagesDep,
    where: FilterDep,
    limit: Annotated[int | None, Query(ge=1)] = None,
    max_s: Annotated[float | None, Query(gt=0)] = None,
) -> StreamingResponse:
    """New messages of ``name`` matching the filters (key, header, value), as they arrive."""
    follower = Follower(messages, name, where)
    try:
        started_at = await asyncio.to_thread(follower.open)  # a missing topic answers 404 before streaming
    except BaseException:
        follower.close()
        raise

    async def stream() -> AsyncIterator[str]:
        sent, started, beat = 0, time.monotonic(), time.monotonic()
        try:
            yield _event({"topic": name, "partitions": started_at}, "ready")
            while not await request.is_disconnected():
                for message in await asyncio.to_thread(follower.poll, 0.5):
                    yield _event(message)
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
                if max_s is not None and time.monotonic() - started >= max_s:
                    return
                if time.monotonic() - beat >= HEARTBEAT_S:
                    beat = time.monotonic()
                    yield ": keep-alive\n\n"
        finally:
            # not awaited: a cancelled stream cannot await, and close() waits for a poll in flight
            threading.Thread(target=follower.close, name="tail-close", daemon=True).start()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
