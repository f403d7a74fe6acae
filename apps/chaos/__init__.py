"""Chaos scenarios: break one part of the running pipeline under load and count the damage."""

from apps.chaos.runner import Chaos, ChaosResult, Scenario, run_scenario
from apps.chaos.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "Chaos", "ChaosResult", "Scenario", "run_scenario"]
