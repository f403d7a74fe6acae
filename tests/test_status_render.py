"""``status`` fits an 80-column terminal: no column cut to "…", no line wider than 80."""

from __future__ import annotations

from rich.console import Console

from apps.status import print_status
from kafka.topics import CONSUMER_GROUPS, DLQ_TOPICS, ENTITY_TOPICS


def _report(big: int) -> dict:
    return {
        "brokers": [{"id": i, "host": "127.0.0.1", "port": 19091 + i} for i in (1, 2, 3)],
        "topics": {s.name: {"end_offsets": [big, big, big], "messages": 3 * big} for s in ENTITY_TOPICS + DLQ_TOPICS},
        "consumer_groups": {g: {"total_lag": big} for g in CONSUMER_GROUPS.values()},
        "tables": {"users": big, "products": big, "orders": big},
        "dead_letters": {s.name: big for s in DLQ_TOPICS},
    }


def test_status_fits_80_columns_without_cutting() -> None:
    for big in (7, 123_456_789):
        console = Console(width=80, record=True, color_system=None)
        print_status(_report(big), console)
        text = console.export_text()
        assert "…" not in text, text
        assert max(len(line) for line in text.splitlines()) <= 80, text
        for group in CONSUMER_GROUPS.values():
            assert group in text  # whole, not folded
        assert str(3 * big) in text and str(big) in text
