"""Entities: every row holds the latest event of its entity inside the snapshot, content included.

State: ``verify_entities`` (per source topic and entity id: latest version, event id, digest of
the row the sink maps that event to). Compare is one query: the state joined with the table,
returning only rows that differ (missing, different version, different digest), so the cost of
an unchanged pipeline is a scan in PostgreSQL, not a read of Kafka.

A row without state or newer than the state is explained only by an event past the snapshot
with that version and the row's digest (``Snapshot.after``); otherwise it is extra / ahead.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Connection, Table, and_, func, or_, select

from apps.verify.content import row_digest, table_digest
from apps.verify.reader import Findings, Record
from apps.verify.snapshot import Snapshot
from apps.verify.state import staged_upsert
from apps.verify.target import Target
from database.crud import key_of
from database.models import VerifyEntity

ENTITIES: Table = VerifyEntity.__table__  # type: ignore[assignment]
MISMATCHES = ("missing", "stale", "tampered", "extra", "ahead")


class EntityReconciler:
    """The latest version per entity of one topic, against its table."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = f"entities:{target.topic}"
        self.sources: dict[str, type[BaseModel] | None] = {target.topic: target.spec.schema}
        self._new: dict[UUID, Any] = {}

    def load(self, conn: Connection) -> None:
        """Nothing to load: the new latest versions are merged into the table on save."""

    def apply(self, record: Record) -> None:
        event = record.event
        if event is None:
            return
        seen = self._new.get(event.entity_id)  # type: ignore[attr-defined]
        if seen is None or event.version > seen.version:  # type: ignore[attr-defined]  # a tie: the first applied wins
            self._new[event.entity_id] = event  # type: ignore[attr-defined]

    def digest(self, event: Any) -> UUID:
        """The digest of the row the sink writes for ``event``."""
        return row_digest(self.target.spec.table, self.target.spec.to_row(event))

    def save(self, conn: Connection) -> None:
        rows = [(self.target.topic, e.entity_id, e.version, e.event_id, self.digest(e)) for e in self._new.values()]
        newer = "version = excluded.version, event_id = excluded.event_id, content = excluded.content"
        staged_upsert(
            conn, ENTITIES, rows, f"(source, entity_id) DO UPDATE SET {newer} WHERE t.version < excluded.version"
        )
        self._new.clear()

    def compare(self, conn: Connection, snapshot: Snapshot) -> Findings:
        table = self.target.spec.table
        key = table.c[key_of(table)]
        mine = select(ENTITIES).where(ENTITIES.c.source == self.target.topic).subquery("s")
        digest = table_digest(table)
        differing = select(mine.c.entity_id, mine.c.version, mine.c.content, key, table.c.version, digest).select_from(
            mine.outerjoin(table, key == mine.c.entity_id, full=True)
        ).where(or_(mine.c.entity_id.is_(None), key.is_(None), table.c.version != mine.c.version,
                    and_(table.c.version == mine.c.version, digest != mine.c.content)))  # fmt: skip
        rows = conn.execute(differing).all()
        findings = Findings(mismatches=MISMATCHES)
        findings.counts["entities"] = conn.execute(select(func.count()).select_from(mine)).scalar_one()
        findings.counts["rows"] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        later = self._after(snapshot, {r[3] for r in rows if r[3] is not None and (r[0] is None or r[4] > r[1])})
        for entity, version, _content, row_key, row_version, row_content in rows:
            if row_key is None:
                findings.note("missing", f"{entity}: topic v{version}, no row")
            elif entity is None or row_version > version:
                if later.get((row_key, row_version)) == row_content:
                    findings.counts["newer"] = findings.counts.get("newer", 0) + 1  # set past the snapshot: fine
                    continue
                kind, known = ("extra", "-") if entity is None else ("ahead", f"v{version}")
                findings.note(kind, f"{row_key}: table v{row_version}, no such event (topic {known})")
            elif row_version < version:
                findings.note("stale", f"{entity}: topic v{version}, table v{row_version}")
            else:
                findings.note("tampered", f"{entity}: v{version} differs from its event's content")
        return findings

    def _after(self, snapshot: Snapshot, wanted: set[UUID]) -> dict[tuple[UUID, int], UUID]:
        """``(entity, version) -> digest`` of the events past the snapshot for the ``wanted`` entities."""
        if not wanted:
            return {}
        found: dict[tuple[UUID, int], UUID] = {}
        schema = self.target.spec.schema
        for message in snapshot.after(self.target.topic):
            try:
                event = schema.model_validate_json(message.value() or b"")
            except ValueError:
                continue
            if event.entity_id in wanted:  # type: ignore[attr-defined]
                found.setdefault((event.entity_id, event.version), self.digest(event))  # type: ignore[attr-defined]
        return found


def orphans_within(conn: Connection, child: Target, parents: list[Table]) -> tuple[int, ...]:
    """Per parent table: rows of ``child`` inside the snapshot (in the state) whose parent row does not exist.

    The child's table references each parent by a column named like the parent's key (orders.user_id).
    """
    table = child.spec.table
    known = select(ENTITIES.c.entity_id).where(
        ENTITIES.c.source == child.topic, ENTITIES.c.entity_id == table.c[key_of(table)]
    )

    def missing(parent: Table) -> int:
        column = key_of(parent)
        orphan = ~select(parent.c[column]).where(parent.c[column] == table.c[column]).exists()
        return conn.execute(select(func.count()).select_from(table).where(known.exists(), orphan)).scalar_one()

    return tuple(missing(parent) for parent in parents)
