"""``Annotated`` dependencies: each route names the reader it needs, the app's context supplies it."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from apps.console.cluster_reader import ClusterReader
from apps.console.context import ConsoleContext
from apps.console.group_reader import GroupReader
from apps.console.message_reader import MessageReader
from apps.console.table_reader import TableReader
from apps.console.topic_reader import TopicReader
from common.settings import ConsoleSettings


def get_context(request: Request) -> ConsoleContext:
    return request.app.state.context


ContextDep = Annotated[ConsoleContext, Depends(get_context)]


def get_cluster(context: ContextDep) -> ClusterReader:
    return context.cluster


def get_topics(context: ContextDep) -> TopicReader:
    return context.topics


def get_groups(context: ContextDep) -> GroupReader:
    return context.groups


def get_messages(context: ContextDep) -> MessageReader:
    return context.messages


def get_tables(context: ContextDep) -> TableReader:
    return context.tables


ClusterDep = Annotated[ClusterReader, Depends(get_cluster)]
TopicsDep = Annotated[TopicReader, Depends(get_topics)]
GroupsDep = Annotated[GroupReader, Depends(get_groups)]
MessagesDep = Annotated[MessageReader, Depends(get_messages)]
TablesDep = Annotated[TableReader, Depends(get_tables)]


def actions_state(settings: ConsoleSettings) -> dict[str, Any]:
    """``enabled`` only with ``PIPELINE_CONSOLE_ALLOW_ACTIONS=true`` and a non-empty ``PIPELINE_CONSOLE_TOKEN``."""
    if not settings.allow_actions:
        return {
            "enabled": False,
            "detail": "actions are disabled: start the console with PIPELINE_CONSOLE_ALLOW_ACTIONS=true",
        }
    if settings.token is None or not settings.token.get_secret_value():
        return {"enabled": False, "detail": "actions are disabled: PIPELINE_CONSOLE_TOKEN is not set"}
    return {"enabled": True, "detail": "actions need the token (PIPELINE_CONSOLE_TOKEN)"}


def require_action(context: ContextDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Guard for state-changing routes: actions enabled and ``Authorization: Bearer <PIPELINE_CONSOLE_TOKEN>``."""
    state = actions_state(context.settings)
    if not state["enabled"]:
        raise HTTPException(403, state["detail"])
    expected = f"Bearer {context.settings.token.get_secret_value()}"  # type: ignore[union-attr]  # enabled: set
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "wrong or missing token: send 'Authorization: Bearer <PIPELINE_CONSOLE_TOKEN>'")


ActionAllowed = Annotated[None, Depends(require_action)]
