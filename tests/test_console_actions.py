"""The console's filters, live tail and dead-letter replay against the real cluster.

Replay is the one state-changing route: refused without PIPELINE_CONSOLE_ALLOW_ACTIONS, refused
with a wrong or missing token, and with both it re-publishes each letter once (``dlq_replay``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable

from confluent_kafka import Producer
from fastapi.testclient import TestClient
from pydantic import SecretStr

from apps.console.main import create_app
from common.settings import ConsoleSettings, DatabaseSettings, KafkaSettings
from tests.kafka_readback import read_all

TOKEN = secrets.token_urlsafe(16)


def console(kafka: KafkaSettings, database_url: str, **settings: object) -> TestClient:
    app = create_app(ConsoleSettings(**settings), kafka, DatabaseSettings(database_url=database_url))
    return TestClient(app)


def _letters(bootstrap: str, dlq: str, source: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        headers = [("error", b"bad"), ("error_type", b"schema"), ("original_topic", source.encode()), ("trace", b"t")]
        producer.produce(dlq, value=json.dumps({"i": i}).encode(), key=f"letter-{i}".encode(), headers=headers)
    assert producer.flush(30) == 0


def test_replay_refused_without_the_setting_or_the_token_and_works_with_both(
    kafka_settings: KafkaSettings, database_url: str, make_topic: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    source = make_topic(unique_name("orders"), partitions=3)
    dlq = make_topic(f"{source}-dlq", partitions=1)
    _letters(kafka_settings.bootstrap_servers, dlq, source, 3)
    url = f"/api/actions/dead-letters/{dlq}/replay"
    good = {"Authorization": f"Bearer {TOKEN}"}

    with console(kafka_settings, database_url, token=SecretStr(TOKEN)) as off:  # a token, but actions off
        assert off.get("/api/actions").json()["enabled"] is False
        refused = off.post(url, headers=good)
        assert refused.status_code == 403 and "PIPELINE_CONSOLE_ALLOW_ACTIONS=true" in refused.json()["detail"]
    with console(kafka_settings, database_url, allow_actions=True) as no_token:  # on, but no token configured
        refused = no_token.post(url, headers=good)
        assert refused.status_code == 403 and "PIPELINE_CONSOLE_TOKEN" in refused.json()["detail"]

    with console(kafka_settings, database_url, allow_actions=True, token=SecretStr(TOKEN)) as on:
        assert on.get("/api/actions").json()["enabled"] is True
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
            refused = on.post(url, headers=headers)
            assert refused.status_code == 401 and "token" in refused.json()["detail"]
        assert read_all(kafka_settings, source, unique_name("g")) == []  # nothing was re-published

        done = on.post(url, headers=good)
        assert done.status_code == 200, done.text
        assert done.json() == {"dlq": dlq, "topic": source, "read": 3, "republished": 3}
        replayed = read_all(kafka_settings, source, unique_name("g"))
        assert sorted(m.key() for m in replayed) == [b"letter-0", b"letter-1", b"letter-2"]
        headers = dict(replayed[0].headers())
        assert headers["trace"] == b"t" and headers["replayed_from"].startswith(dlq.encode()) and "error" not in headers
        assert on.post(url, headers=good).json()["read"] == 0  # a second replay sends nothing again
        assert on.post("/api/actions/dead-letters/orders/replay", headers=good).status_code == 422


def _produce_mixed(bootstrap: str, topic: str) -> tuple[int, int]:
    """Six messages: keys a-0..a-5, header 'kind' even/odd, value with 'colour'; returns (t_before, t_after)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    stamps = []
    for i in range(6):
        value = json.dumps({"i": i, "colour": "red" if i < 3 else "blue"}).encode()
        kind = b"even" if i % 2 == 0 else b"odd"
        producer.produce(topic, value=value, key=f"a-{i}".encode(), partition=i % 3, headers=[("kind", kind)])
        assert producer.flush(10) == 0
        stamps.append(int(time.time() * 1000))
        time.sleep(0.05)
    return stamps[2], stamps[5]


def test_filters_by_key_header_value_and_time(
    kafka_settings: KafkaSettings, database_url: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic(partitions=3)
    middle, end = _produce_mixed(kafka_settings.bootstrap_servers, topic)
    with console(kafka_settings, database_url) as client:

        def keys(**params: object) -> list[str]:
            answer = client.get(f"/api/topics/{topic}/messages/search", params=params)
            assert answer.status_code == 200, answer.text
            return sorted(m["key"] for m in answer.json()["data"])

        assert keys(key="a-4") == ["a-4"]
        assert keys(header="kind=odd") == ["a-1", "a-3", "a-5"]
        assert keys(header="kind") == [f"a-{i}" for i in range(6)]
        assert keys(header="missing") == []
        assert keys(value="blue") == ["a-3", "a-4", "a-5"]
        assert keys(value="blue", header="kind=even") == ["a-4"]
        assert keys(since=middle) == ["a-3", "a-4", "a-5"]
        assert keys(since=0, until=middle) == ["a-0", "a-1", "a-2"]
        assert keys(since=end + 60_000) == []
        assert client.get(f"/api/topics/{topic}/messages/search").status_code == 422


def test_tail_streams_new_matching_messages(
    kafka_settings: KafkaSettings, database_url: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic(partitions=3)
    _produce_mixed(kafka_settings.bootstrap_servers, topic)  # already there: not part of the tail
    with console(kafka_settings, database_url) as client:
        with client.stream("GET", f"/api/topics/{topic}/tail", params={"value": "blue", "limit": 2}) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: ready"
            ready = json.loads(next(lines).removeprefix("data: "))
            assert ready["topic"] == topic and sorted(ready["partitions"]) == ["0", "1", "2"]
            writer = threading.Thread(target=_produce_mixed, args=(kafka_settings.bootstrap_servers, topic))
            writer.start()
            data = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
            writer.join()
        assert [m["value"]["colour"] for m in data] == ["blue", "blue"]
        assert {m["key"] for m in data} <= {"a-3", "a-4", "a-5"}
        assert client.get("/api/topics/no-such-topic-here/tail").status_code == 404
