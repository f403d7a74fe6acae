"""The producer's cheap ``produced_at`` stamp must equal pydantic's own ``model_copy`` (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from kafka.producer.serializers import serialize, stamp


def test_stamp_is_pydantics_copy_with_produced_at() -> None:
    stream = RealtimeStream(build_pools("ko_KR", 42), 42, CounterClock(), live_seed=1)
    stream.load_catalogue(50, 50)
    now = datetime.now(UTC)
    for event in stream.events(500):
        stamped, reference = stamp(event, now), event.model_copy(update={"produced_at": now})
        assert stamped == reference and serialize(stamped) == serialize(reference)
        assert stamped.model_fields_set == reference.model_fields_set
        assert event.produced_at is None  # the original is untouched
