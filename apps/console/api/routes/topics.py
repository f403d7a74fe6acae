"""Topics view: the topic list and one topic's partitions and configs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.console.api.deps import ContextDep, TopicsDep

router = APIRouter(prefix="/api/topics", tags=["topics"])


@router.get("")
def list_topics(topics: TopicsDep, context: ContextDep, internal: bool = False) -> dict[str, Any]:
    """Topics with partitions, replication factor, message count and partition health, and lag.

    ``lag``/``lag_group``: the group applying the topic, from the sampler's latest reading (null before it).
    """
    answer = topics.topics(include_internal=internal)
    lags = context.sampler.topic_lag()
    for row in answer["data"]:
        lag = lags.get(row["name"], {})
        row["lag"], row["lag_group"] = lag.get("lag"), lag.get("group")
    return answer


@router.get("/{name}")
def get_topic(name: str, topics: TopicsDep) -> dict[str, Any]:
    """One topic: per partition leader, replicas, ISR, start/end offsets, messages; and its configs."""
    return topics.topic(name)
