"""Waiting on ``manage.py status --json`` of a pipeline a test started, without polling it.

One ``manage.py status`` costs the machine about 3 s of CPU (two interpreters and a dozen Kafka
clients, brokers included); polled back to back it took more than one of the 2 cores from the
very consumers being waited for. ``Probe`` reads the parts the waits look at (members, lag, rows)
through clients held for the whole test, for about 0.15 s of CPU a look; ``wait_status`` polls
it and asks the real command once the probe agrees, so what is asserted is still its report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack

from apps.console.membership import Membership
from apps.console.table_reader import TableReader
from apps.status import idle_members
from common.settings import KafkaSettings
from kafka.offsets import group_readers, read_offsets
from kafka.topics import CONSUMER_GROUPS

PROBE_S = 0.5  # between looks


class Probe:
    """``consumer_groups`` (members, idle, total_lag), ``total_lag`` and ``tables`` as status reports them."""

    def __init__(self, kafka: KafkaSettings, database_url: str) -> None:
        self._held = ExitStack()
        self.membership = Membership(kafka)
        self._held.callback(self.membership.close)
        self.tables = TableReader(database_url)
        self._held.callback(self.tables.close)
        self.readers = self._held.enter_context(group_readers(kafka, CONSUMER_GROUPS.values(), "status-probe"))

    def report(self) -> dict:
        snapshot = self.membership.describe(list(CONSUMER_GROUPS.values()))
        described = snapshot.state == "ok" and not any(d.get("error") for d in snapshot.groups.values())
        groups = (
            {group: self._group(topic, group, snapshot.groups[group]) for topic, group in CONSUMER_GROUPS.items()}
            if described
            else {"error": snapshot.detail or str(snapshot.groups)}
        )
        return {
            "consumer_groups": groups,
            "total_lag": sum(g["total_lag"] for g in groups.values()) if described else None,
            "tables": {row["table"]: row["rows"] for row in self.tables.tables()["data"]},
        }

    def _group(self, topic: str, group: str, description: dict) -> dict:
        members = {
            m["client_id"] or m["member_id"]: [f"{t}[{p}]" for t, p in m["assignment"]] for m in description["members"]
        }
        lag = sum(r.lag for r in read_offsets(self.readers[group], topic))
        return {"members": members, "idle": idle_members(members), "total_lag": lag}

    def close(self) -> None:
        self._held.close()


def wait_status(
    probe: Probe,
    status: Callable[[], dict],
    holds: Callable[[dict], bool],
    timeout_s: float,
    confirmed: Callable[[dict], bool] | None = None,
) -> dict:
    """Until ``confirmed`` (default: ``holds``) the report ``status()`` returns; returns that report.

    ``status()`` is called only once ``holds`` the probe's report; ``confirmed`` may look at more
    than the probe sees (the services' states).
    """
    confirmed = confirmed or holds
    deadline = time.monotonic() + timeout_s
    while True:
        report = probe.report()
        if holds(report):
            report = status()
            if confirmed(report):
                return report
        if time.monotonic() > deadline:
            raise AssertionError(json.dumps(report, indent=1, default=str)[:4000])
        time.sleep(PROBE_S)
