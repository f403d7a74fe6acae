"""Cluster membership views through the AdminClient: brokers and consumer-group members.

Offsets and lag are read by ``kafka/offsets.py`` with a plain consumer instead: librdkafka's
coordinator-targeted admin calls (ListConsumerGroupOffsets, DescribeConsumerGroups) can abort
the process when a broker connection drops mid-request (librdkafka issue #4605), so long-lived
processes should not depend on them for anything but membership.
"""

from __future__ import annotations

import json
import subprocess
import sys

from confluent_kafka.admin import AdminClient

from common.settings import KafkaSettings
from kafka import clients
from kafka.config import client_config


def admin(settings: KafkaSettings) -> AdminClient:
    return clients.admin(settings, "pipeline-inspect", {"log_level": 4})  # warnings and up


def brokers(settings: KafkaSettings, timeout_s: float = 5) -> list[dict]:
    """Brokers the metadata lists now (a dead broker drops out of this list)."""
    metadata = admin(settings).list_topics(timeout=timeout_s)
    return [{"id": b.id, "host": b.host, "port": b.port} for b in sorted(metadata.brokers.values(), key=lambda b: b.id)]


def groups_members(settings: KafkaSettings, groups: list[str], timeout_s: float = 10) -> dict[str, dict]:
    """State and members (client id -> assigned partitions) of several consumer groups, in one child process.

    A child's Python start-up costs about a second on a busy machine; one for all the groups keeps
    ``status`` and the chaos runner's membership probe short. Raises when any group is not described.
    """
    request = json.dumps(client_config(settings, "pipeline-inspect") | {"log_level": 3}) + "\n"
    request += json.dumps({"groups": groups, "timeout_s": timeout_s}) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "kafka.admin.membership_worker"],
        input=request, capture_output=True, text=True, timeout=timeout_s + 30, check=False,
    )  # fmt: skip
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not answers or "groups" not in answers[-1]:
        reason = answers[-1].get("error") if answers else f"exit {result.returncode}"
        raise RuntimeError(f"describing group {', '.join(groups)} failed: {reason}")
    return {group: _members(group, answers[-1]["groups"][group]) for group in groups}


def _members(group: str, description: dict) -> dict:
    if description.get("error"):
        raise RuntimeError(f"describing group {group} failed: {description['error']}")
    members = {
        m["client_id"] or m["member_id"]: sorted(f"{topic}[{partition}]" for topic, partition in m["assignment"])
        for m in description["members"]
    }
    return {"group": group, "state": description["state"], "members": members}
