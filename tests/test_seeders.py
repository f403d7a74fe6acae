from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.pipeline.seed import seed_catalogue
from common.settings import GeneratorSettings
from tests.kafka_readback import read_all

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"PIPELINE_SEED_USERS": "150", "PIPELINE_SEED_PRODUCTS": "300", "PIPELINE_SEED": "7"}


@pytest.fixture
def entity_topics(make_topic) -> dict[str, str]:
    return {name: make_topic(partitions=3) for name in ("users", "products", "orders")}


def _topic_args(topics: dict[str, str]) -> list[str]:
    return [arg for name, actual in topics.items() for arg in ("--topic", f"{name}={actual}")]


def _ids(settings, topic: str, group: str) -> list[tuple[str, str, int]]:
    rows = [json.loads(m.value()) for m in read_all(settings, topic, group)]
    return [(r["entity_id"], r["event_id"], r["version"]) for r in rows]


def _logfmt(line: str) -> dict[str, str]:
    import shlex

    return dict(part.split("=", 1) for part in shlex.split(line) if "=" in part)


def test_reseeding_publishes_the_same_ids(kafka_settings, entity_topics, unique_name) -> None:
    settings = GeneratorSettings(seed=5, seed_users=100, seed_products=200)
    first = seed_catalogue(kafka_settings, settings, entity_topics)
    second = seed_catalogue(kafka_settings, settings, entity_topics)
    assert first.report.ok and second.report.ok and first.report.acked == 300
    users = _ids(kafka_settings, entity_topics["users"], unique_name("g"))
    products = _ids(kafka_settings, entity_topics["products"], unique_name("g"))
    assert len(users) == 200 and len(set(users)) == 100  # each id twice, same event id, version 1
    assert len(products) == 400 and len(set(products)) == 200
    assert {version for *_, version in users + products} == {1}


def _run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_parallel_seeding_sends_what_the_sequential_seeder_sends(kafka_settings, entity_topics, unique_name) -> None:
    """The command line sends the products from a forked process; the events must not change."""
    for mode in ("--no-parallel", "--parallel"):
        seeder = _run(["apps.pipeline.seed", mode, *_topic_args(entity_topics)], SIZES)
        out, err = seeder.communicate(timeout=120)
        assert seeder.returncode == 0, err
        assert "sent=450 acked=450 failed=0 undelivered=0" in out
    for name, count in (("users", 150), ("products", 300)):
        events = _ids(kafka_settings, entity_topics[name], unique_name("g"))
        assert len(events) == 2 * count and len(set(events)) == count  # each event twice, identical


def test_seeder_then_realtime_generator_end_to_end(kafka_settings, entity_topics, unique_name) -> None:
    seeder = _run(["apps.pipeline.seed", *_topic_args(entity_topics)], SIZES)
    out, err = seeder.communicate(timeout=120)
    assert seeder.returncode == 0, err
    assert "sent=450 acked=450 failed=0 undelivered=0" in out

    # load mode with a count: stops on its own
    counted = _run(["apps.pipeline.produce", "--count", "3000", *_topic_args(entity_topics)], SIZES)
    _, err = counted.communicate(timeout=120)
    assert counted.returncode == 0, err
    summary = _logfmt(next(line for line in err.splitlines() if "msg=summary" in line))
    assert summary["acked"] == "3000" and summary["undelivered"] == "0"

    # default mode until SIGTERM: the first orders and 100 product updates go out at once
    stream = _run(["apps.pipeline.produce", *_topic_args(entity_topics)], SIZES)
    time.sleep(6)
    stream.send_signal(signal.SIGTERM)
    _, err = stream.communicate(timeout=60)
    assert stream.returncode == 0, err
    summary = _logfmt(next(line for line in err.splitlines() if "msg=summary" in line))
    assert int(summary["acked"]) >= 101 and summary["failed"] == "0"
    assert all(line.startswith("ts=") for line in err.splitlines())

    users = {
        json.loads(m.value())["entity_id"] for m in read_all(kafka_settings, entity_topics["users"], unique_name("g"))
    }
    products = {
        json.loads(m.value())["entity_id"]
        for m in read_all(kafka_settings, entity_topics["products"], unique_name("g"))
    }
    orders = [
        json.loads(m.value())["payload"] for m in read_all(kafka_settings, entity_topics["orders"], unique_name("g"))
    ]
    assert len(orders) > 500
    assert all(o["user_id"] in users and o["product_id"] in products for o in orders)
    assert len(products) == 300


def test_realtime_generator_refuses_to_start_without_a_catalogue(entity_topics) -> None:
    stream = _run(["apps.pipeline.produce", "--count", "10", *_topic_args(entity_topics)], SIZES)
    _, err = stream.communicate(timeout=60)
    assert stream.returncode == 2 and "seed catalogue missing" in err


def test_ctrl_c_in_load_mode_flushes_and_exits_0(kafka_settings, entity_topics) -> None:
    seed_catalogue(kafka_settings, GeneratorSettings(seed=7, seed_users=150, seed_products=300), entity_topics)
    stream = _run(["apps.pipeline.produce", "--rate", "2000", *_topic_args(entity_topics)], SIZES)
    time.sleep(5)
    stream.send_signal(signal.SIGINT)
    _, err = stream.communicate(timeout=60)
    assert stream.returncode == 0, err
    summary = _logfmt(next(line for line in err.splitlines() if "msg=summary" in line))
    assert int(summary["acked"]) > 1_000 and summary["undelivered"] == "0" and summary["failed"] == "0"
