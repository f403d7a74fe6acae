"""The console's sampler reads a group without members every 15 s, not on every 3-second sample."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from apps.console import sampler as sampler_module
from apps.console.group_reader import GroupOffsets
from apps.console.sampler import IDLE_GROUP_EVERY_S, Sampler


class FakeAdmin:
    def metadata(self) -> Any:
        return SimpleNamespace(topics={})

    def offsets(self, partitions: list, spec: str = "latest") -> dict:
        return {}

    def group_ids(self) -> list[str]:
        return ["active", "idle"]


class FakeGroups:
    """Counts the offset reads per group; ``idle`` has no members, ``active`` has one."""

    def __init__(self) -> None:
        self.reads: dict[str, int] = {"active": 0, "idle": 0}
        described = {"active": {"members": [{"client_id": "m"}]}, "idle": {"members": []}}
        self.membership = SimpleNamespace(describe=lambda ids, max_age_s: SimpleNamespace(groups=described))

    def offsets(self, group: str, description: Any) -> GroupOffsets:
        self.reads[group] += 1
        return GroupOffsets()


def test_memberless_groups_are_read_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(sampler_module.time, "time", lambda: clock[0])
    groups = FakeGroups()
    sampler = Sampler(FakeAdmin(), groups, interval_s=3.0)  # type: ignore[arg-type]
    assert IDLE_GROUP_EVERY_S == 15.0
    for _ in range(11):  # 0 to 30 s, 3 s apart
        raw = sampler.read()
        assert set(raw.lag) == {"active", "idle"}  # the idle group keeps its last reading in every point
        clock[0] += 3.0
    assert groups.reads == {"active": 11, "idle": 3}  # idle: at 0, 15 and 30 s
