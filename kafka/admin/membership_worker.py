"""``python -m kafka.admin.membership_worker``: DescribeConsumerGroups in a child process.

DescribeConsumerGroups goes to each group's coordinator, and librdkafka's coordinator requests
can abort the whole process when a broker connection drops mid-request (librdkafka #4605:
``rd_kafka_enq_once_del_source_return: Assertion 'eonce->refcnt > 0' failed``). Running it
here means such an abort ends this child only: the console (``apps/console/membership.py``) and
``kafka/admin/inspect.groups_members`` notice, report
membership as unavailable, and the console starts a new child on a later call.

Protocol, one JSON document per line: the first line on stdin is the client config, answered
by ``{"ready": true}``; each further line ``{"groups": [...], "timeout_s": 4}`` is answered by
``{"groups": {group_id: description}}`` or ``{"error": "..."}``. End of stdin ends the child.
This module imports nothing from the project: the child starts fast and stays small.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription

from kafka import clients


def _name(value: Any) -> str:
    return str(getattr(value, "name", value)).lower()


def plain(description: ConsumerGroupDescription) -> dict[str, Any]:
    """A group description as JSON-ready data (members sorted, assignments as [topic, partition])."""
    members = []
    for m in sorted(description.members, key=lambda m: (m.client_id, m.member_id)):
        parts = m.assignment.topic_partitions if m.assignment else []
        members.append(
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "group_instance_id": m.group_instance_id,
                "assignment": sorted([tp.topic, tp.partition] for tp in parts),
            }
        )
    coordinator = description.coordinator
    return {
        "state": _name(description.state),
        "type": _name(description.type),
        "partition_assignor": description.partition_assignor,
        "coordinator": coordinator.id if coordinator is not None else None,
        "members": members,
        "error": None,
    }


def describe(client: AdminClient, group_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Each group's description, or ``{"error", "code"}`` for a group the coordinator did not describe."""
    if not group_ids:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for group_id, future in client.describe_consumer_groups(group_ids, request_timeout=timeout_s).items():
        try:
            result[group_id] = plain(future.result(timeout=timeout_s + 1))
        except KafkaException as exc:
            err = exc.args[0]
            result[group_id] = {"error": f"{err.name()}: {err.str()}", "code": err.name()}
        except TimeoutError:
            result[group_id] = {"error": "timed out waiting for the coordinator", "code": "_TIMED_OUT"}
    return result


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Serve requests from stdin until it closes (the console stopped or replaced this child)."""
    config = json.loads(sys.stdin.readline() or "{}")
    client = clients.admin_from(config)
    _send({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _send({"groups": describe(client, request["groups"], float(request.get("timeout_s", 4.0)))})
        except Exception as exc:  # noqa: BLE001 - the parent shows the reason; the child keeps serving
            _send({"error": f"{type(exc).__name__}: {exc}"[:300]})


if __name__ == "__main__":
    main()
