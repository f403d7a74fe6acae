"""``Annotated`` dependencies: each route names the reader it needs, the app's context supplies it."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from apps.console.cluster_reader import ClusterReader
from apps.console.context import ConsoleContext
from apps.console.group_reader import GroupReader
from apps.console.message_reader import MessageReader
from apps.console.table_reader import TableReader
from apps.console.topic_reader import TopicReader


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


def require_action(context: ContextDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Guard for any future state-changing route: actions enabled and ``Bearer <PIPELINE_CONSOLE_TOKEN>``."""
    settings = context.settings
    if not settings.allow_actions or settings.token is None:
        raise HTTPException(403, "actions are disabled (PIPELINE_CONSOLE_ALLOW_ACTIONS and PIPELINE_CONSOLE_TOKEN)")
    expected = f"Bearer {settings.token.get_secret_value()}"
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "a valid 'Authorization: Bearer <token>' header is required")


ActionAllowed = Annotated[None, Depends(require_action)]
