"""The console's only state-changing route: replay a dead-letter topic, behind a setting and a token.

Refused with 403 unless the console runs with ``PIPELINE_CONSOLE_ALLOW_ACTIONS=true`` and a
``PIPELINE_CONSOLE_TOKEN``, and with 401 without ``Authorization: Bearer <token>``. The replay
itself is ``apps/pipeline/dlq_replay.py`` (the same progress group as ``make dlq-replay``), so running
either one twice never re-publishes a letter twice.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from apps.console.api.deps import ActionAllowed, ContextDep, actions_state
from apps.console.errors import NotFound, kafka_errors
from apps.pipeline.dlq_replay import replay

router = APIRouter(prefix="/api/actions", tags=["actions"])


@router.get("")
def actions(context: ContextDep) -> dict[str, Any]:
    """Whether actions are enabled, and why not (the page shows it next to the replay buttons)."""
    return actions_state(context.settings)


@router.post("/dead-letters/{dlq}/replay")
def replay_dead_letters(dlq: str, context: ContextDep, _allowed: ActionAllowed) -> dict[str, Any]:
    """Re-publish the letters of ``dlq`` not replayed yet to their original topic; the counts."""
    if not dlq.endswith("-dlq"):
        raise HTTPException(422, f"{dlq!r} is not a dead-letter topic (its name ends with -dlq)")
    source = dlq.removesuffix("-dlq")
    with kafka_errors(f"replaying {dlq}"):
        if dlq not in context.admin.metadata().topics:
            raise NotFound(f"topic {dlq!r} does not exist")
        try:
            report = replay(context.admin.settings, dlq, source, f"dlq-replay-{source}", timeout_s=20)
        except RuntimeError as exc:  # some letters were not acknowledged: nothing committed, run again
            raise HTTPException(502, str(exc)) from None
    return {"dlq": dlq, "topic": source, "read": report.read, "republished": report.republished}
