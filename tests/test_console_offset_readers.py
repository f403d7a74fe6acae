"""The console keeps one offset reader per recently read group instead of a client per reading."""

from __future__ import annotations

from typing import Any

import pytest

from apps.console import offset_readers
from apps.console.offset_readers import OffsetReaders
from common.settings import KafkaSettings


class FakeReader:
    """Stands in for the Kafka consumer: counts what the pool does with it."""

    def __init__(self, group_id: str) -> None:
        self.group_id, self.reads, self.closed = group_id, 0, False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[FakeReader]:
    created: list[FakeReader] = []

    def fake_reader(settings: KafkaSettings, group_id: str | None = None) -> FakeReader:
        created.append(FakeReader(group_id or ""))
        return created[-1]

    def fake_read(consumer: FakeReader, topic: str, **_: Any) -> list[Any]:
        assert not consumer.closed, "a closed reader was used"
        consumer.reads += 1
        return []

    monkeypatch.setattr(offset_readers, "reader", fake_reader)
    monkeypatch.setattr(offset_readers, "read_offsets", fake_read)
    return created


def test_a_group_read_again_reuses_its_reader(made: list[FakeReader]) -> None:
    readers = OffsetReaders(KafkaSettings(), timeout_s=1.0, size=2)
    for _ in range(5):
        readers.read("orders-group", "orders")
        readers.read("users-group", "users")
    assert [r.group_id for r in made] == ["orders-group", "users-group"]
    assert [r.reads for r in made] == [5, 5]


def test_the_least_recently_used_reader_is_closed_beyond_the_size(made: list[FakeReader]) -> None:
    readers = OffsetReaders(KafkaSettings(), timeout_s=1.0, size=2)
    readers.read("a", "t")
    readers.read("b", "t")
    readers.read("a", "t")  # "b" is now the least recently used
    readers.read("c", "t")
    assert {r.group_id: r.closed for r in made} == {"a": False, "b": True, "c": False}
    readers.close()
    assert all(r.closed for r in made)
