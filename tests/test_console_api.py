"""The console's JSON API against the real cluster and PostgreSQL: its numbers match AdminClient and SQL."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from apps.console.main import create_app
from apps.console.quorum import QuorumCache
from apps.runtime.checks import free_port
from common.settings import ConsoleSettings, DatabaseSettings, KafkaSettings

ENTITY_TABLES = ("users", "products", "orders")


def make_client(kafka: KafkaSettings, database_url: str, runtime: object | None = None) -> TestClient:
    app = create_app(
        ConsoleSettings(),
        kafka,
        DatabaseSettings(database_url=database_url),
        getattr(runtime, "settings", None),
        sample_interval_s=1.0,
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(kafka_settings: KafkaSettings, database_url: str, runtime: object) -> Iterator[TestClient]:
    with make_client(kafka_settings, database_url, runtime) as test_client:
        yield test_client


def produce(bootstrap: str, topic: str, per_partition: int, partitions: int = 3) -> None:
    """``per_partition`` JSON messages with key ``k-<p>-<i>`` and a header into every partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for p in range(partitions):
        for i in range(per_partition):
            value = json.dumps({"partition": p, "i": i}).encode()
            producer.produce(topic, value=value, key=f"k-{p}-{i}".encode(), partition=p, headers=[("source", b"test")])
    assert producer.flush(30) == 0


def wait_for(check: Callable[[], object], timeout_s: float = 30, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def joined_member(bootstrap: str, topic: str, group: str, client_id: str, committed: int) -> Consumer:
    """A member of ``group`` holding all three partitions of ``topic``, offset ``committed`` on each."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id})
    try:
        consumer.subscribe([topic])
        wait_for(lambda: consumer.poll(0.5) is not None or consumer.assignment(), what="an assignment")
        consumer.commit(offsets=[TopicPartition(topic, p, committed) for p in range(3)], asynchronous=False)
    except BaseException:
        consumer.close()
        raise
    return consumer


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/cluster", "/api/topics", "/api/topics/{name}/messages", "/api/groups", "/api/pipeline"):
        assert path in paths
    assert "Pipeline console" in client.get("/").text


def test_brokers_match_admin(client: TestClient, bootstrap_servers: str, healthy_cluster: None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    nodes = admin.describe_cluster(request_timeout=10).result(timeout=15).nodes
    body = client.get("/api/cluster/brokers").json()
    assert body["count"] == len(nodes) == 3
    assert body["up"] == 3
    assert {(b["id"], b["address"]) for b in body["data"]} == {(n.id, f"{n.host}:{n.port}") for n in nodes}
    health = client.get("/api/cluster/partitions").json()
    assert health["offline"]["count"] == 0


def test_quorum_has_a_leader(client: TestClient, runtime: object) -> None:
    if getattr(runtime, "supervisor", None) is None:
        pytest.skip("the quorum tool runs only with the local runtime's jars")
    quorum = client.get("/api/cluster/quorum").json()
    assert quorum["state"] == "ok", quorum
    assert quorum["leader_id"] in (1, 2, 3)
    assert quorum["voters"] == [1, 2, 3]


def test_topics_match_admin(client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str) -> None:
    topic = make_topic(partitions=3)
    produce(bootstrap_servers, topic, per_partition=7)
    listed = {t["name"]: t for t in client.get("/api/topics").json()["data"]}
    assert {"users", "products", "orders"} <= set(listed)
    assert not any(name.startswith("__") for name in listed)
    assert listed[topic]["messages"] == 21
    assert (listed[topic]["partitions"], listed[topic]["replication_factor"]) == (3, 3)

    detail = client.get(f"/api/topics/{topic}").json()
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "console-test-watermarks"})
    try:
        for row in detail["partitions_detail"]["data"]:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, row["partition"]), timeout=10)
            assert (row["start_offset"], row["end_offset"], row["messages"]) == (low, high, high - low)
            assert row["leader"] in row["isr"] and len(row["replicas"]) == 3
    finally:
        consumer.close()
    assert detail["configs"]["min.insync.replicas"] == "2"
    assert client.get("/api/topics/no-such-topic-here").status_code == 404


def test_browse_newest_offset_and_search(
    client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str
) -> None:
    topic = make_topic(partitions=3)
    produce(bootstrap_servers, topic, per_partition=30)

    newest = client.get(f"/api/topics/{topic}/messages", params={"partition": 1, "limit": 5}).json()
    assert [m["offset"] for m in newest["data"]] == [29, 28, 27, 26, 25]
    first = newest["data"][0]
    assert first["key"] == "k-1-29" and first["value"] == {"partition": 1, "i": 29}
    assert first["headers"] == [["source", "test"]] and first["timestamp"] > 0

    page = client.get(f"/api/topics/{topic}/messages", params={"partition": 2, "offset": 10, "limit": 4}).json()
    assert [(m["partition"], m["offset"]) for m in page["data"]] == [(2, 10), (2, 11), (2, 12), (2, 13)]

    everywhere = client.get(f"/api/topics/{topic}/messages", params={"limit": 12}).json()
    assert everywhere["count"] == 12

    found = client.get(f"/api/topics/{topic}/messages/search", params={"key": "k-0-1"}).json()
    assert sorted(m["key"] for m in found["data"]) == ["k-0-1", *(f"k-0-{i}" for i in range(10, 20))]
    assert found["scanned"] == 90


def test_group_lag_matches_committed_offsets(
    client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str, unique_name: Callable[[str], str]
) -> None:
    topic, group = make_topic(partitions=3), unique_name("console-group")
    produce(bootstrap_servers, topic, per_partition=10)
    consumer = joined_member(bootstrap_servers, topic, group, "console-test-member", committed=4)
    try:
        body = wait_for(
            lambda: (g := client.get(f"/api/groups/{group}").json()).get("state") == "stable" and g,
            what="a stable group",
        )
        assert body["members"] == 1 and body["lag"] == 18
        member = body["members_detail"]["data"][0]
        assert member["client_id"] == "console-test-member" and len(member["assignment"]) == 3
        rows = {(r["topic"], r["partition"]): r for r in body["partitions"]["data"]}
        admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        from confluent_kafka import ConsumerGroupTopicPartitions

        answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=15)
        for tp in answer.topic_partitions:
            assert rows[(tp.topic, tp.partition)]["committed_offset"] == tp.offset == 4
            assert rows[(tp.topic, tp.partition)]["lag"] == 6
        listed = {g["group_id"]: g for g in client.get("/api/groups").json()["data"]}
        assert listed[group]["members"] == 1 and listed[group]["lag"] == 18

        series = wait_for(
            lambda: [p for p in client.get("/api/pipeline/series").json()["data"] if p["lag"].get(group) == 18],
            what="the sampler to record the group's lag",
        )
        assert series
    finally:
        consumer.close()
    assert client.get("/api/groups/no-such-group-here").status_code == 404


def test_sampler_reports_produced_rate(
    client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str
) -> None:
    topic = make_topic(partitions=3)

    def produced() -> list[dict]:
        produce(bootstrap_servers, topic, per_partition=20)
        return [p for p in client.get("/api/pipeline/series").json()["data"] if (p["produced"].get(topic) or 0) > 0]

    points = wait_for(produced, what="a non-zero produced rate")
    assert points[-1]["error"] is None


def test_row_counts_match_sql(client: TestClient, database_url: str) -> None:
    body = client.get("/api/pipeline/tables").json()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        for row in body["data"]:
            assert row["state"] == "ok"
            assert row["rows"] == conn.execute(text(f'SELECT count(*) FROM "{row["table"]}"')).scalar_one()
    engine.dispose()
    assert [r["table"] for r in body["data"]] == list(ENTITY_TABLES)


def test_missing_tables_are_a_state(
    kafka_settings: KafkaSettings, pg_schema: tuple[str, str], database_url: str
) -> None:
    url, schema = pg_schema
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE "{schema}".users (id int)'))
        conn.execute(text(f'INSERT INTO "{schema}".users SELECT generate_series(1, 5)'))
        conn.execute(text(f'CREATE TABLE "{schema}".orders (LIKE public.orders INCLUDING ALL)'))
    engine.dispose()
    with make_client(kafka_settings, url) as schema_client:
        rows = {r["table"]: r for r in schema_client.get("/api/pipeline/tables").json()["data"]}
    assert rows["users"]["rows"] == 5 and rows["users"]["state"] == "ok"
    assert rows["products"] == {"table": "products", "state": "missing", "rows": None}
    assert rows["orders"]["rows"] == 0 and rows["orders"]["applied_last_minute"] == 0


def test_dead_letters_show_their_reason(
    client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str, unique_name: Callable[[str], str]
) -> None:
    dlq = make_topic(name=unique_name("orders") + "-dlq", partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    headers = [("error", b"quantity must be > 0"), ("error_type", b"ValidationError"), ("original_topic", b"orders")]
    producer.produce(dlq, value=b'{"bad": true}', key=b"order-1", headers=headers)
    assert producer.flush(30) == 0
    body = client.get("/api/dead-letters").json()
    assert {"topic": dlq, "messages": 1} in body["topics"]
    letter = next(m for m in body["data"] if m["topic"] == dlq)
    assert letter["reason"]["error"] == "quantity must be > 0"
    assert letter["reason"]["error_type"] == "ValidationError" and letter["key"] == "order-1"


def test_unreachable_sources_are_states_not_traces(kafka_settings: KafkaSettings) -> None:
    dead_kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    dead_db = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/none"
    with make_client(dead_kafka, dead_db) as dead:
        assert dead.get("/healthz").status_code == 200
        started = time.monotonic()
        topics = dead.get("/api/topics")
        assert topics.status_code == 503 and topics.json()["detail"]["source"] == "kafka"
        assert time.monotonic() - started < 10
        brokers = dead.get("/api/cluster/brokers").json()
        assert brokers["up"] == 0 and {b["status"] for b in brokers["data"]} == {"down"}
        tables = dead.get("/api/pipeline/tables")
        assert tables.status_code == 503 and tables.json()["detail"]["source"] == "postgresql"
        summary = dead.get("/api/pipeline").json()
        assert summary["tables"]["state"] == "unavailable"
        status = dead.get("/api/status").json()
        assert status["kafka"]["state"] == "unavailable" and status["postgresql"]["state"] == "unavailable"
        assert "Traceback" not in topics.text + tables.text


def test_membership_worker_death_is_a_stale_state(
    client: TestClient, make_topic: Callable[..., str], bootstrap_servers: str, unique_name: Callable[[str], str]
) -> None:
    """DescribeConsumerGroups runs in a child (librdkafka #4605): its death costs a stale section, not the console."""
    topic, group = make_topic(partitions=3), unique_name("console-member")
    produce(bootstrap_servers, topic, per_partition=5)
    consumer = joined_member(bootstrap_servers, topic, group, "console-test-worker", committed=2)
    membership = client.app.state.context.membership  # type: ignore[attr-defined]
    try:
        wait_for(lambda: client.get(f"/api/groups/{group}").json().get("members") == 1, what="one member")
        first = membership.pid
        assert first is not None

        os.kill(first, signal.SIGKILL)  # what librdkafka's abort does to the child
        wait_for(lambda: membership.pid is None, timeout_s=10, what="the worker to be gone")
        stale = client.get(f"/api/groups/{group}")
        assert stale.status_code == 200
        body = stale.json()
        assert body["membership"]["state"] == "stale" and "SIGKILL" in body["membership"]["detail"]
        assert body["members"] == 1 and body["members_detail"]["data"][0]["client_id"] == "console-test-worker"
        assert body["lag"] == 9  # offsets do not depend on the worker
        listed = client.get("/api/groups").json()
        assert listed["membership"]["state"] in ("stale", "unavailable")
        assert group in {g["group_id"] for g in listed["data"]}

        fresh = wait_for(
            lambda: (g := client.get(f"/api/groups/{group}").json())["membership"]["state"] == "ok" and g,
            what="a restarted worker",
        )
        assert fresh["members"] == 1 and membership.pid not in (None, first)
    finally:
        consumer.close()


def test_quorum_never_names_a_down_node_as_leader() -> None:
    answers = iter([{"LeaderId": "3", "LeaderEpoch": "7", "CurrentVoters": "[1,2,3]"}, {"LeaderId": "1"}])

    def probe() -> dict[str, str]:
        answer = next(answers)
        if answer["LeaderId"] == "1":
            time.sleep(1.0)  # the tool takes seconds: the cached answer is served meanwhile
        return answer

    cache = QuorumCache(probe, ttl_s=60, recheck_s=0.0)
    assert cache.get()["leader_id"] == 3
    down = cache.get(down={3})
    assert down["state"] == "leader down" and down["leader_id"] is None and down["last_leader_id"] == 3
    # a dead leader makes the cached answer stale at once: the next answer comes from a new probe
    wait_for(lambda: cache.get(down={3}).get("leader_id") == 1, timeout_s=10, what="a re-probed leader")
