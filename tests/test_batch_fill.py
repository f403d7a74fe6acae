"""Consumer batches wait to fill under load only, and the producer's stamp equals pydantic's copy.

Pure unit tests (no cluster): a fake clock drives ``BatchFill``; the realtime-rate case is the
guard that keeps the latency path free of the fill wait.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collect.clock import CounterClock
from collect.pools import build_pools
from collect.stream import RealtimeStream
from kafka.batch_fill import BUSY_RATE, BatchFill
from kafka.producer.serializers import serialize, stamp


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(fill: BatchFill, clock: FakeClock, per_batch: int, every_s: float, seconds: float) -> None:
    for _ in range(int(seconds / every_s)):
        clock.now += every_s
        fill.record(per_batch)


def test_waits_to_fill_under_load_only() -> None:
    clock = FakeClock()
    fill = BatchFill(0.1, clock=clock)
    assert not fill.busy  # nothing seen yet
    _feed(fill, clock, per_batch=40, every_s=0.02, seconds=2)  # 2,000 messages/s: a loaded member
    assert fill.busy and fill.rate >= BUSY_RATE
    _feed(fill, clock, per_batch=0, every_s=0.2, seconds=2)  # idle polls: the rate decays within a window
    assert not fill.busy


def test_realtime_bursts_never_wait() -> None:
    """100 product updates at once (about 40 per member) every 10 s, orders every 2 s: never busy."""
    clock = FakeClock()
    fill = BatchFill(0.1, clock=clock)
    for second in range(60):
        clock.now = second + 0.001
        fill.record(40 if second % 10 == 0 else 2)
        assert not fill.busy, f"busy at {second} s with rate {fill.rate}"
        _feed(fill, clock, per_batch=0, every_s=0.2, seconds=0.8)


def test_zero_wait_disables_the_fill() -> None:
    clock = FakeClock()
    fill = BatchFill(0, clock=clock)
    _feed(fill, clock, per_batch=500, every_s=0.01, seconds=2)
    assert fill.rate > BUSY_RATE and not fill.busy


def test_stamp_is_pydantics_copy_with_produced_at() -> None:
    stream = RealtimeStream(build_pools("ko_KR", 42), 42, CounterClock(), live_seed=1)
    stream.load_catalogue(50, 50)
    now = datetime.now(UTC)
    for event in stream.events(500):
        stamped, reference = stamp(event, now), event.model_copy(update={"produced_at": now})
        assert stamped == reference and serialize(stamped) == serialize(reference)
        assert stamped.model_fields_set == reference.model_fields_set
        assert event.produced_at is None  # the original is untouched
