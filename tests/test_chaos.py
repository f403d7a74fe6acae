"""Every chaos scenario at small scale against the session runtime: nothing lost, nothing duplicated.

The scenarios use the supervised consumers and the production topic names of the session's own
cluster (no other test uses them), and must hand the runtime back healthy: brokers and
PostgreSQL running, even when a scenario fails half-way.
"""

from __future__ import annotations

import pytest

from apps.chaos import SCENARIOS, Chaos, Scenario, health, run_scenario
from apps.chaos.health import cluster_healthy, wait_for
from apps.chaos.scenarios import sigkill

pytestmark = [pytest.mark.slow, pytest.mark.disruptive]
RATE, DURATION_S, FAULT_S = 100.0, 12.0, 5.0


@pytest.fixture(scope="module")
def chaos(runtime, kafka_settings, database_url):
    if getattr(runtime, "supervisor", None) is None:
        pytest.skip("chaos needs the supervised local runtime")
    runtime.start_group("consumers")  # started once for the module; scenarios leave them as found
    # ... which they can only do once supervisord reports them RUNNING: a scenario that found them
    # still STARTING would stop them when it ends, and every later one would start them again
    every = set(runtime.names("consumers"))
    wait_for(lambda: health.running(runtime, "consumers") == every, 60, "the consumers running")
    # the load runs DURATION_S / 4 before the fault and as long after the runtime is restored, then
    # stops: an instant fault (a consumer killed, PostgreSQL restarted) no longer idles out 12 s
    yield Chaos(
        runtime, kafka_settings, database_url, RATE, DURATION_S, FAULT_S, timeout_s=240, verify=False,
        tail_s=DURATION_S / 4,
    )  # fmt: skip
    runtime.stop_group("consumers")


def assert_healthy(chaos: Chaos) -> None:
    supervisor = chaos.runtime.supervisor
    for name in [*chaos.runtime.names("kafka"), *chaos.runtime.names("database")]:
        assert supervisor.state(name)["statename"] == "RUNNING", name
    assert cluster_healthy(chaos.kafka)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(chaos, name):
    result = run_scenario(chaos, SCENARIOS[name])
    counts = result.counts
    print(name, result)
    assert counts.acknowledged > 0 and counts.applied > 0
    assert result.delivered, f"load exit {result.load_exit}"  # also when the runner stopped it (SIGTERM: exit 0)
    assert counts.lost == 0, counts.samples
    assert counts.duplicated == 0, counts.samples  # orders counted twice in the sales aggregates
    assert counts.duplicate_ids == 0 and counts.sales_mismatch == 0, counts.samples
    assert counts.dead_lettered == counts.injected == counts.invalid_in_topics
    assert (counts.injected > 0) == (name == "poison")
    if name != "poison":
        assert result.recovery_s is not None
    assert_healthy(chaos)


def test_runtime_restored_when_a_fault_fails(chaos):
    def kill_a_broker_then_fail(run):
        sigkill(run, "kafka-3")
        raise RuntimeError("fault failed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        run_scenario(chaos, Scenario("failing", kill_a_broker_then_fail, "kills kafka-3 and raises"))
    assert_healthy(chaos)
