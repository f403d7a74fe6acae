"""Dead letters matched by position: each message failing the schema is dead-lettered exactly once.

The consumer's dead letters carry their source position in headers (``original_topic``,
``original_partition``, ``original_offset``; see ``kafka/dead_letter.py``). State,
``verify_dead_letters``: per source position, whether it failed the schema and how many dead
letters name it. Only positions with something to say are stored, so the table stays small.

Inside the snapshot (source offset below its end offset), a rejected message with no dead
letter is ``dlq missing``, a position with two or more is ``dlq twice``, and a dead letter
whose header names no readable position is ``dlq unmatched``. A dead letter for a message that
passed the schema was refused by the database: counted as ``sink rejects`` (its entity shows
up as missing or stale); dead letters past the snapshot wait for the next run.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel
from sqlalchemy import Connection, Table, and_, func, not_, select

from apps.verify.reader import Findings, Record
from apps.verify.snapshot import Snapshot
from apps.verify.state import staged_upsert
from apps.verify.target import Target
from database.models import VerifyDeadLetter
from kafka.dead_letter import ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC

DEAD_LETTERS: Table = VerifyDeadLetter.__table__  # type: ignore[assignment]
MISMATCHES = ("dlq missing", "dlq twice", "dlq unmatched")
UNMATCHED = -1  # the partition stored for dead letters without a readable source position


def source_position(record: Record) -> tuple[str, int, int] | None:
    """The ``(topic, partition, offset)`` a dead letter's headers name, or None."""
    headers = {k: v for k, v in record.message.headers() or [] if v is not None}
    try:
        topic = headers[ORIGINAL_TOPIC].decode()
        return topic, int(headers[ORIGINAL_PARTITION]), int(headers[ORIGINAL_OFFSET])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


class DeadLetterMatcher:
    """Rejected positions of one topic against the dead letters in its dead-letter topic."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = f"dead-letters:{target.topic}"
        self.sources: dict[str, type[BaseModel] | None] = {target.topic: target.spec.schema, target.dlq_topic: None}
        self._invalid: set[tuple[int, int]] = set()
        self._letters: Counter[tuple[int, int]] = Counter()

    def load(self, conn: Connection) -> None:
        """Nothing to load: counts are added to the table on save."""

    def apply(self, record: Record) -> None:
        if record.topic == self.target.topic:
            if record.rejected:
                self._invalid.add((record.partition, record.offset))
            return
        position = source_position(record)
        if position is None or position[0] != self.target.topic:
            self._letters[(UNMATCHED, record.offset)] += 1
        else:
            self._letters[position[1:]] += 1

    def save(self, conn: Connection) -> None:
        rows = [(self.target.topic, p, o, (p, o) in self._invalid, self._letters[(p, o)])
                for p, o in self._invalid | self._letters.keys()]  # fmt: skip
        merge = "invalid = t.invalid OR excluded.invalid, dead_letters = t.dead_letters + excluded.dead_letters"
        staged_upsert(conn, DEAD_LETTERS, rows, f'(source, partition, "offset") DO UPDATE SET {merge}')
        self._invalid.clear()
        self._letters.clear()

    def compare(self, conn: Connection, snapshot: Snapshot) -> Findings:
        t = DEAD_LETTERS.c
        mine = t.source == self.target.topic
        findings = Findings(mismatches=MISMATCHES)
        totals = select(func.count().filter(t.invalid), func.coalesce(func.sum(t.dead_letters), 0)).where(mine)
        findings.counts["invalid"], findings.counts["dead letters"] = conn.execute(totals).one()
        odd = select(t.partition, t.offset, t.invalid, t.dead_letters).where(
            mine, not_(and_(t.invalid, t.dead_letters == 1))
        )
        for partition, offset, invalid, letters in conn.execute(odd.order_by(t.partition, t.offset)):
            where = f"{self.target.topic}[{partition}]@{offset}"
            if partition == UNMATCHED:
                findings.note("dlq unmatched", f"{self.target.dlq_topic}@{offset} names no source position")
            elif not snapshot.inside(self.target.topic, partition, offset):
                continue  # past the snapshot: judged by the next run
            elif letters > 1:
                findings.note("dlq twice", f"{where} dead-lettered {letters} times")
            elif invalid:
                findings.note("dlq missing", f"{where} failed the schema, no dead letter")
            else:
                findings.note("sink rejects", f"{where} passed the schema, refused by the database")
        return findings
