"""The console in real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app runs under uvicorn on a free port against the session's cluster and PostgreSQL; the
pipeline's nine consumers run under the runtime's supervisord, and a small producer and a
consumer group of the test's own keep a topic moving so the charts have something to draw.
Screenshots of every view go to ``reports/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from apps.runtime.checks import free_port
from common.settings import PROJECT_ROOT, KafkaSettings
from kafka.topics import CONSUMER_GROUPS

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "reports" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def console_url(runtime: object) -> Iterator[str]:
    """``python -m apps.console`` in its own process (as supervisord runs it), on a free port.

    A separate process also keeps a librdkafka abort in the console from taking the test session down.
    """
    port = free_port()
    env = {**os.environ, "PIPELINE_CONSOLE_PORT": str(port), "PIPELINE_CONSOLE_HOST": "127.0.0.1"}
    settings = getattr(runtime, "settings", None)
    if settings is not None:  # the quorum tool needs this runtime's ports and folder
        env |= {
            "PIPELINE_RUNTIME_DIR": str(settings.runtime_dir),
            "PIPELINE_KAFKA_PORTS": json.dumps(settings.kafka_ports),
        }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log = (SCREENSHOTS.parent / "console-test.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.console"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            break
        except OSError:
            assert process.poll() is None, "the console exited at start: see reports/console-test.log"
            assert time.monotonic() < deadline, "the console did not answer /healthz within 30 s"
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(15)
    log.close()


@pytest.fixture(scope="module")
def traffic(bootstrap_servers: str) -> Iterator[tuple[str, str]]:
    """A topic with a producer (~30 events/s) and a consuming, committing group of the test's own."""
    from confluent_kafka.admin import NewTopic

    topic, group = f"console-traffic-{os.getpid()}", f"console-traffic-group-{os.getpid()}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, 3, 3)])[topic].result(timeout=30)
    stop = threading.Event()

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 20})
        i = 0
        while not stop.is_set():
            producer.produce(
                topic, key=f"order-{i}".encode(), value=json.dumps({"order": i, "qty": i % 5 + 1}).encode()
            )
            producer.poll(0)
            i += 1
            time.sleep(0.03)
        producer.flush(10)

    def consume() -> None:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap_servers, "group.id": group, "client.id": "console-traffic-member"}
        )
        consumer.subscribe([topic])
        while not stop.is_set():
            consumer.consume(500, 0.5)
            time.sleep(1.0)  # commits (auto, every 5 s) trail the producer a little: a visible lag
        consumer.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (produce, consume)]
    for t in threads:
        t.start()
    yield topic, group
    stop.set()
    for t in threads:
        t.join(20)
    admin.delete_topics([topic], operation_timeout=30)


@pytest.fixture(scope="module")
def pipeline_consumers(runtime: object, bootstrap_servers: str) -> Iterator[int]:
    """The pipeline's nine consumers (three groups of three) when the local runtime can run them."""
    if getattr(runtime, "supervisor", None) is None:
        yield 0
        return
    from apps.chaos.health import cluster_healthy, wait_for

    wait_for(lambda: cluster_healthy(KafkaSettings(bootstrap_servers=bootstrap_servers)), 180, "a healthy cluster")
    runtime.start_group("consumers")  # type: ignore[attr-defined]
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    deadline, members = time.monotonic() + 90, 0
    while time.monotonic() < deadline:
        described = admin.describe_consumer_groups(list(CONSUMER_GROUPS.values()), request_timeout=5)
        try:
            members = sum(len(f.result(timeout=10).members) for f in described.values())
        except Exception:  # noqa: BLE001 - groups not created yet
            members = 0
        if members == 9:
            break
        time.sleep(1)
    assert members == 9, f"the nine pipeline consumers did not join their groups ({members} members)"
    yield members
    runtime.stop_group("consumers")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, console_url: str) -> Iterator[tuple[object, list[str]]]:
    """A fresh page and the console errors it logs."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, errors
    context.close()


def shoot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(0.5)


def test_every_view_renders_live_data_without_console_errors(
    page: tuple, console_url: str, traffic: tuple[str, str], pipeline_consumers: int
) -> None:
    page, errors = page
    topic, group = traffic
    page.goto(f"{console_url}/#/cluster")
    page.wait_for_selector('#broker-summary[data-up="3"][data-count="3"]', timeout=20_000)
    assert page.locator("#brokers tbody tr").count() == 3
    assert page.locator("#brokers .badge.ok", has_text="up").count() == 3
    page.wait_for_selector("#quorum-leader, #quorum .state", timeout=30_000)
    page.wait_for_selector("#pill-kafka.ok", timeout=10_000)
    assert page.locator("#pill-kafka").inner_text() == "Kafka 3/3 brokers up"
    shoot(page, "cluster")

    page.goto(f"{console_url}/#/topics")
    page.wait_for_selector(f'#topics a:text-is("{topic}")', timeout=15_000)
    names = page.locator("#topics tbody tr td:first-child").all_inner_texts()
    assert {"users", "products", "orders", "users-dlq", "products-dlq", "orders-dlq"} <= set(names)
    shoot(page, "topics")
    page.locator(f'#topics a:text-is("{topic}")').click()
    page.wait_for_selector("#topic-messages", timeout=15_000)
    assert page.locator("#partitions tbody tr").count() == 3
    shoot(page, "topic")

    page.goto(f"{console_url}/#/messages/{topic}")
    page.wait_for_selector("#message-count", timeout=15_000)
    assert int(page.locator("#message-count").get_attribute("data-count")) == 20
    assert '"qty"' in page.locator("#result pre.json").first.inner_text()
    shoot(page, "messages")

    page.goto(f"{console_url}/#/groups")
    page.wait_for_selector("#group-summary", timeout=15_000)
    for gid in CONSUMER_GROUPS.values() if pipeline_consumers else ():
        row = page.locator("#groups tbody tr", has=page.locator(f'a:text-is("{gid}")'))
        assert row.locator("td").nth(2).inner_text() == "3", f"{gid} should have 3 members"
    assert int(page.locator("#group-summary").get_attribute("data-members")) >= pipeline_consumers + 1
    shoot(page, "groups")
    page.locator(f'#groups a:text-is("{group}")').click()
    page.wait_for_selector("#members tbody tr td:text-is('console-traffic-member')", timeout=15_000)
    wait_until(lambda: int(page.locator("#lag-chart").get_attribute("data-points") or 0) >= 2, 30, "lag history")
    shoot(page, "group")

    page.goto(f"{console_url}/#/pipeline")
    chart = page.locator("#rate-chart")
    page.wait_for_selector('#rate-chart[data-updates="2"]', timeout=15_000)
    first_t = chart.get_attribute("data-last-t")
    wait_until(lambda: int(chart.get_attribute("data-updates")) >= 4, 30, "the rate chart to update")
    assert chart.get_attribute("data-last-t") != first_t, "the chart redrew but its data did not move"
    produced = page.evaluate(
        f"window.consoleCharts.rates.chart.data.datasets.find(d => d.label === '{topic} produced').data"
    )
    assert max(v or 0 for v in produced) > 0
    page.wait_for_selector("#tables tbody tr", timeout=15_000)
    assert page.locator("#tables tbody tr").count() == 3
    page.wait_for_selector("#dlq .body p", timeout=15_000)
    shoot(page, "pipeline")
    assert errors == [], f"console errors: {errors}"


def test_live_tail_filters_and_dead_letters(
    page: tuple, console_url: str, traffic: tuple[str, str], bootstrap_servers: str
) -> None:
    """The tail shows a message produced during the test, pauses and resumes; the filters find its key."""
    page, errors = page
    page.goto(f"{console_url}/#/messages/{traffic[0]}")
    page.wait_for_selector("#message-count", timeout=15_000)
    page.click("#tail-start")
    page.wait_for_selector('#tail-state[data-state="live"]', timeout=15_000)
    probe = f"tail-probe-{uuid.uuid4().hex[:12]}"
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    producer.produce(traffic[0], key=probe.encode(), value=b'{"probe": true}', headers=[("source", b"browser-test")])
    assert producer.flush(10) == 0
    page.wait_for_selector(f'#tail-table code:text-is("{probe}")', timeout=15_000)
    shoot(page, "tail")

    page.click("#tail-pause")  # the traffic goes on (~30/s): the rows stand still, the new ones are held
    page.wait_for_selector('#tail-state[data-state="paused"]', timeout=5_000)
    frozen = page.inner_html("#tail-table")
    wait_until(lambda: "held while paused" in page.inner_text("#tail-count"), 10, "messages held while paused")
    assert page.inner_html("#tail-table") == frozen
    page.click("#tail-pause")
    page.wait_for_selector('#tail-state[data-state="live"]', timeout=5_000)
    wait_until(lambda: page.inner_html("#tail-table") != frozen, 10, "the held rows to be shown")

    page.fill("#filters input[name=key]", probe)
    page.fill("#filters input[name=header]", "source=browser")
    page.click("#search")
    page.wait_for_selector('#message-count[data-count="1"]', timeout=15_000)
    assert page.locator("#result tbody tr td code").first.inner_text() == probe
    shoot(page, "messages-filtered")

    page.goto(f"{console_url}/#/dead-letters")
    page.wait_for_selector("#dlq-topics table", timeout=15_000)
    names = page.locator("#dlq-topics tbody tr td:first-child").all_inner_texts()
    assert {"users-dlq", "products-dlq", "orders-dlq"} <= set(names)
    assert page.locator("#dlq-topics button.replay[disabled]").count() == len(names)  # actions are off
    assert "PIPELINE_CONSOLE_ALLOW_ACTIONS" in page.inner_text("#actions-state")
    shoot(page, "dead-letters")
    assert errors == [], f"console errors: {errors}"


CLAIMS_LEADER = """(victim) => {
  const leader = document.querySelector("#quorum-leader");
  const row = [...document.querySelectorAll("#brokers tbody tr")].find((r) => r.cells[0].textContent.trim() === victim);
  return Boolean((leader && leader.textContent.trim() === victim) || (row && row.textContent.includes("leader")));
}"""


SHOWN_DOWN = """(victim) => [...document.querySelectorAll("#brokers tbody tr")].some(
  (r) => r.cells[0].textContent.trim() === victim && r.cells[3].textContent.trim() === "down")"""


def test_killed_broker_is_reported_down(page: tuple, console_url: str, runtime: object) -> None:
    """Kill the node leading the controller quorum: the page shows it down and never as the leader."""
    if getattr(runtime, "supervisor", None) is None:
        pytest.skip("killing a broker needs the local runtime's supervisor")
    page, _errors = page
    page.goto(f"{console_url}/#/cluster")
    page.wait_for_selector('#broker-summary[data-up="3"]', timeout=20_000)
    page.wait_for_selector("#quorum-leader", timeout=60_000)
    victim = page.locator("#quorum-leader").inner_text().strip()
    os.kill(runtime.supervisor.state(f"kafka-{victim}")["pid"], 9)  # type: ignore[attr-defined]
    page.wait_for_selector('#broker-summary[data-up="2"]', timeout=20_000)
    row = page.locator("#brokers tbody tr", has=page.locator(f"td:text-is('{victim}')"))
    assert row.locator(".badge").first.inner_text() == "down"
    page.wait_for_selector("#pill-kafka.warn", timeout=10_000)
    assert page.locator("#pill-kafka").inner_text() == "Kafka 2/3 brokers up"

    def claims_dead_leader() -> bool:  # read in one go: the page redraws its cards every few seconds
        return page.evaluate(CLAIMS_LEADER, victim)

    updated = page.locator("#pill-updated").inner_text()
    wait_until(lambda: page.locator("#pill-updated").inner_text() != updated, 15, "the next refresh")
    deadline = time.monotonic() + 8  # while the node stays down, over several refreshes
    while time.monotonic() < deadline and page.evaluate(SHOWN_DOWN, victim):
        assert not claims_dead_leader(), f"the quorum card names node {victim}, which is down, as leader"
        time.sleep(0.3)
    shoot(page, "broker-down")
    page.goto(f"{console_url}/#/topics")  # the rest of the console keeps working meanwhile
    page.wait_for_selector("#topics table, #topics .state", timeout=20_000)
    page.goto(f"{console_url}/#/groups")
    page.wait_for_selector("#group-summary, #groups .state", timeout=30_000)
    page.goto(f"{console_url}/#/cluster")
    page.wait_for_selector('#broker-summary[data-up="3"]', timeout=120_000)  # supervisord restarted it
    page.goto(f"{console_url}/#/groups")  # and after it is back, groups answer with live membership
    page.wait_for_selector("#group-summary", timeout=30_000)
    wait_until(lambda: group_membership(console_url) == "ok", 60, "live group membership again")


def group_membership(console_url: str) -> str:
    with urllib.request.urlopen(f"{console_url}/api/groups", timeout=30) as answer:
        return json.load(answer)["membership"]["state"]


def test_console_survives(console_url: str) -> None:
    """Runs last: the console process must still answer after the broker was killed."""
    assert urllib.request.urlopen(f"{console_url}/healthz", timeout=5).status == 200
