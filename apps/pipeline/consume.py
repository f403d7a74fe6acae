"""Run one consumer group member: ``python -m apps.pipeline.consume --group orders --instance 2``.

``--group`` names the entity topic (``users``, ``products``, ``orders``); the Kafka group id
comes from ``kafka/topics.CONSUMER_GROUPS`` and the member is called ``<entity>-consumer-<n>``
(its ``client.id``). Settings come from the environment (``PIPELINE_*``). SIGTERM and SIGINT
finish the current batch, commit, close and exit 0. ``--topic``/``--group-id``/``--dlq-topic``
override the production names (tests use them to isolate).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from types import FrameType

from common.gc_tuning import tune_for_throughput
from common.logging import configure_logging
from common.settings import DatabaseSettings, KafkaSettings, MetricsSettings, load
from kafka import metrics
from kafka.consumers import CONSUMERS

log = logging.getLogger("apps.pipeline.consume")


def _instance(value: str) -> str:
    """A member number, or ``auto`` for a replica that has none (a Kubernetes pod: its name's suffix)."""
    if value == "auto":
        return socket.gethostname().rsplit("-", 1)[-1]
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a member number (1, 2, ...) nor 'auto'")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description="Run one consumer group member.")
    parser.add_argument("--group", required=True, choices=sorted(CONSUMERS), help="entity topic to consume")
    parser.add_argument(
        "--instance", type=_instance, default="1", help="member number, 1-based; 'auto': the host name's last part"
    )
    parser.add_argument("--topic", help="override the topic name")
    parser.add_argument("--group-id", help="override the consumer group id")
    parser.add_argument("--dlq-topic", help="override the dead-letter topic name")
    parser.add_argument("--static", action="store_true", help="static membership (group.instance.id)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build settings, run the member until a signal, return the exit code."""
    args = parse_args(argv)
    spec = CONSUMERS[args.group]
    configure_logging(spec.client_id(args.instance), args.log_level.upper())
    tune_for_throughput()
    kafka_settings = load(KafkaSettings)
    database_settings = load(DatabaseSettings)
    exposed = load(MetricsSettings)
    metrics.serve(exposed.port, exposed.host)  # type: ignore[attr-defined]
    consumer = spec.build(
        kafka_settings,  # type: ignore[arg-type]  # load() returns the class it was given
        database_settings.url,  # type: ignore[attr-defined]
        args.instance,
        topic=args.topic,
        group_id=args.group_id,
        dlq_topic=args.dlq_topic,
        group_instance_id=spec.client_id(args.instance) if args.static else None,
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received, finishing the batch", extra={"fields": {"signal": signal.Signals(signum).name}})
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
