"""Topics view: the topic list and one topic's partitions and configs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.console.api.deps import TopicsDep

router = APIRouter(prefix="/api/topics", tags=["topics"])


@router.get("")
def list_topics(topics: TopicsDep, internal: bool = False) -> dict[str, Any]:
    """Topics with partitions, replication factor, message count and partition health."""
    return topics.topics(include_internal=internal)


@router.get("/{name}")
def get_topic(name: str, topics: TopicsDep) -> dict[str, Any]:
    """One topic: per partition leader, replicas, ISR, start/end offsets, messages; and its configs."""
    return topics.topic(name)
