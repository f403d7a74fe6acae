"""Everything the routes read from, built once per app from the settings.

Routes get these through ``api/deps.py``; tests build an app with their own settings and get
their own context, so nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from apps.console.cluster_reader import ClusterReader
from apps.console.group_reader import GroupReader
from apps.console.kafka_admin import KafkaAdmin
from apps.console.membership import Membership
from apps.console.message_reader import MessageReader
from apps.console.metrics import PipelineCollector
from apps.console.quorum import QuorumCache, local_probe
from apps.console.sampler import Sampler
from apps.console.table_reader import TableReader
from apps.console.topic_reader import TopicReader
from apps.console.verify_hook import VerifyHook, production_runner
from common.settings import ConsoleSettings, DatabaseSettings, KafkaSettings, RuntimeSettings


@dataclass
class ConsoleContext:
    """The console's readers, caches and sampler."""

    settings: ConsoleSettings
    admin: KafkaAdmin
    cluster: ClusterReader
    topics: TopicReader
    groups: GroupReader
    membership: Membership
    messages: MessageReader
    tables: TableReader
    quorum: QuorumCache
    verify: VerifyHook
    sampler: Sampler
    metrics: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=False))

    @classmethod
    def build(
        cls,
        console: ConsoleSettings,
        kafka: KafkaSettings,
        database: DatabaseSettings,
        runtime: RuntimeSettings | None = None,
        sample_interval_s: float = 3.0,
    ) -> ConsoleContext:
        """Wire the readers; nothing connects yet (clients connect lazily, the membership child starts on first use)."""
        admin = KafkaAdmin(kafka)
        membership = Membership(kafka)
        groups = GroupReader(admin, membership)
        probe, no_probe = local_probe(runtime, kafka)
        runner, stored, no_runner = production_runner(kafka, database.url)
        context = cls(
            settings=console,
            admin=admin,
            cluster=ClusterReader(admin),
            topics=TopicReader(admin),
            groups=groups,
            membership=membership,
            messages=MessageReader(kafka),
            tables=TableReader(database.url),
            quorum=QuorumCache(probe, no_probe),
            verify=VerifyHook(runner, stored, no_runner),
            sampler=Sampler(admin, groups, interval_s=sample_interval_s),
        )
        context.metrics.register(PipelineCollector(context, console.targets))
        return context

    def close(self) -> None:
        """Release the database pool and stop the membership child (the app is shutting down)."""
        self.tables.close()
        self.membership.close()
