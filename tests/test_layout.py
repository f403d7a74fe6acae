"""Two rules of the layout, checked on the source: one entity registry, one Kafka client factory.

Each check parses the project's modules (no cluster needed) and is shown to fire on a module
that breaks its rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

from common.settings import PROJECT_ROOT

PACKAGES = ("apps", "kafka", "database", "common", "collect")
ENTITY_NAMES = {"users", "products", "orders"}
# Only the registry and the table models name the entities.
NAMING_ENTITIES = {"common/entities.py", "database/models.py"}
CLIENT_CLASSES = {"AdminClient", "Producer", "Consumer"}
# The factory itself, and the local runtime's provisioning clients (the broker's super user on the
# internal listener, before any pipeline principal exists).
BUILDING_CLIENTS = {"kafka/clients.py", "apps/runtime/kafka_cluster.py", "apps/runtime/kafka_security.py"}


def sources() -> dict[str, ast.Module]:
    found = {"manage.py": ast.parse((PROJECT_ROOT / "manage.py").read_text())}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            relative = path.relative_to(PROJECT_ROOT).as_posix()
            if "/migrations/versions/" not in relative:
                found[relative] = ast.parse(path.read_text())
    return found


def entity_literals(tree: ast.Module) -> list[int]:
    """Lines where a string constant is exactly an entity's topic or table name."""
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in ENTITY_NAMES]


def client_constructions(tree: ast.Module) -> list[int]:
    """Lines that call ``AdminClient(...)``, ``Producer(...)`` or ``Consumer(...)`` directly."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    named = [(c, c.func.id if isinstance(c.func, ast.Name) else getattr(c.func, "attr", "")) for c in calls]
    return [c.lineno for c, name in named if name in CLIENT_CLASSES]


def test_entity_names_are_spelled_only_in_the_registry_and_the_models():
    found = {path: lines for path, tree in sources().items() if (lines := entity_literals(tree))}
    assert set(found) <= NAMING_ENTITIES, {p: v for p, v in found.items() if p not in NAMING_ENTITIES}
    assert {"common/entities.py", "database/models.py"} <= set(found)


def test_every_kafka_client_is_built_by_the_factory():
    found = {path: lines for path, tree in sources().items() if (lines := client_constructions(tree))}
    assert set(found) - BUILDING_CLIENTS == set(), found
    assert "kafka/clients.py" in found


def test_the_checks_fire_on_a_module_that_breaks_them():
    broken = ast.parse('TOPIC = "orders"\nadmin = AdminClient({"bootstrap.servers": "x"})\np = ck.Producer(conf)\n')
    assert entity_literals(broken) == [1]
    assert client_constructions(broken) == [2, 3]
    assert entity_literals(ast.parse('"""orders flow in."""\nx = f"{topic}-dlq"\n')) == []


def test_sources_cover_the_project():
    paths = set(sources())
    assert {"manage.py", "kafka/consumer.py", "apps/status.py", "database/crud.py"} <= paths
    assert not any("/migrations/versions/" in p for p in paths)
    assert Path(PROJECT_ROOT / "database/migrations/versions").is_dir()
