"""Batch writes with a version guard, and the counting queries ``verify`` and the console use.

``upsert_latest`` is the only way the consumers write. It keeps, per key, the row with the
highest version, then applies the batch in one statement whose ``WHERE table.version <
excluded.version`` makes an older or repeated event a no-op: redelivery and replay are harmless.
Two strategies exist so the benchmark can compare them; ``copy`` is the default because it
was the fastest (see GUIDE/DB_README.md for the figures).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Connection, Insert, Table, column, func, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert

from database.binary_arrays import int8s, uuids
from database.models import Order, Product, User
from database.pipeline import driver

Row = Mapping[str, Any]
Method = Literal["copy", "values"]
BOOKKEEPING = ("applied_at",)  # set by the database, never by the event
_STAGED = "staged_tables"  # a pooled connection's info: the temp tables its session already has


@dataclass(frozen=True)
class UpsertResult:
    """What one batch did: rows received, distinct keys, rows actually inserted or updated."""

    received: int
    unique: int
    applied: int

    @property
    def stale(self) -> int:
        """Distinct keys the version guard skipped (already at this version or newer)."""
        return self.unique - self.applied


def key_of(target: Table) -> str:
    """The single primary-key column every entity table has."""
    (key,) = target.primary_key.columns
    return key.name


def latest_per_key(rows: Iterable[Row], key: str) -> list[Row]:
    """One row per key, the highest version winning (first-seen key order).

    PostgreSQL rejects an ``ON CONFLICT DO UPDATE`` that touches one key twice.
    """
    best: dict[Any, Row] = {}
    for row in rows:
        seen = best.get(row[key])
        if seen is None or row["version"] > seen["version"]:
            best[row[key]] = row
    return list(best.values())


def _columns(target: Table) -> list[str]:
    return [c.name for c in target.columns if c.name not in BOOKKEEPING]


def _guarded(statement: Insert, target: Table) -> Insert:
    """Add the conflict clause: overwrite only with a strictly higher version."""
    key = key_of(target)
    excluded = statement.excluded
    updates: dict[str, Any] = {name: excluded[name] for name in _columns(target) if name != key}
    updates["applied_at"] = func.now()
    return statement.on_conflict_do_update(
        index_elements=[key], set_=updates, where=target.c.version < excluded.version
    )


def _pg_type(target: Table, name: str) -> str:
    compiled = target.c[name].type.compile(dialect=postgresql.dialect())
    return re.sub(r"\(.*\)", "", compiled).strip().lower()


@dataclass(frozen=True)
class _CopyPlan:
    """The SQL of a COPY upsert for one table, built once: a batch only streams rows."""

    names: list[str]
    types: list[str]
    create: str
    copy: str
    upsert: str


@cache
def _copy_plan(target: Table) -> _CopyPlan:
    names = _columns(target)
    stage = f"_stage_{target.name}"
    source = table(stage, *(column(n) for n in names))
    # ORDER BY key: concurrent writers lock rows in the same order, so they cannot deadlock.
    ordered = select(*source.c).order_by(source.c[key_of(target)])
    upsert = _guarded(pg_insert(target).from_select(names, ordered), target)
    return _CopyPlan(
        names=names,
        types=[_pg_type(target, n) for n in names],
        create=f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{target.name}" INCLUDING DEFAULTS)'
        " ON COMMIT DELETE ROWS",
        copy=f'COPY "{stage}" ({", ".join(names)}) FROM STDIN (FORMAT BINARY)',
        upsert=str(upsert.compile(dialect=postgresql.dialect())),
    )


def create_stage(dbapi_connection: Any, record_info: dict[str, Any], target: Table) -> None:
    """Create ``target``'s temp table when a connection opens, committed, so no batch pays for it.

    For a SQLAlchemy ``connect`` listener (``database/writer.py``). Created inside a batch's
    transaction, the table would vanish with a rollback; created here it lives with the session.
    """
    with dbapi_connection.cursor() as cur:
        cur.execute(_copy_plan(target).create)
    dbapi_connection.commit()
    record_info.setdefault(_STAGED, set()).add(target.name)


def _stage_copy(conn: Connection, target: Table, rows: Sequence[Row]) -> None:
    """COPY (binary) the rows into a session temp table: the Python-heavy half of a COPY upsert.

    Runs on the driver's cursor with SQL built once per table: at 1,000-row batches, building
    and compiling the statement each time cost as much as the COPY itself.
    """
    plan = _copy_plan(target)
    with driver(conn).cursor() as cur:
        if target.name not in conn.connection.info.get(_STAGED, ()):  # a connection without ``create_stage``
            cur.execute(plan.create)
        with cur.copy(plan.copy) as copy:
            copy.set_types(plan.types)
            for row in rows:
                copy.write_row([row[n] for n in plan.names])


def _apply_staged(conn: Connection, target: Table) -> int:
    """One ``INSERT ... SELECT ... ON CONFLICT`` from the temp table: mostly PostgreSQL's time."""
    with driver(conn).cursor() as cur:
        cur.execute(_copy_plan(target).upsert)
        return cur.rowcount


def _values_upsert(conn: Connection, target: Table, rows: Sequence[Row]) -> int:
    """Multi-row ``INSERT ... VALUES ... ON CONFLICT`` (SQLAlchemy's insertmanyvalues)."""
    names = _columns(target)
    statement = _guarded(pg_insert(target), target)
    params = [{n: row[n] for n in names} for row in rows]
    return conn.execute(statement, params, execution_options={"preserve_rowcount": True}).rowcount


@dataclass(frozen=True)
class StagedUpsert:
    """A batch ready to apply: for ``copy``, its rows already sit in the session's temp table.

    Two steps so a caller can do its own Python work while PostgreSQL applies the batch
    (``database/writer.py``); ``apply`` runs in the same transaction as ``stage_latest``.
    """

    conn: Connection
    target: Table
    method: Method
    received: int
    unique: Sequence[Row]

    def apply(self) -> UpsertResult:
        """The version-guarded upsert of the staged rows."""
        if not self.unique:
            applied = 0
        elif self.method == "copy":
            applied = _apply_staged(self.conn, self.target)
        else:
            applied = _values_upsert(self.conn, self.target, self.unique)
        return UpsertResult(self.received, len(self.unique), applied)


def stage_latest(conn: Connection, target: Table, rows: Iterable[Row], method: Method = "copy") -> StagedUpsert:
    """Keep each key's newest row and, for ``copy``, stream them into the temp table."""
    received = list(rows)
    unique = latest_per_key(received, key_of(target))
    if unique and method == "copy":
        _stage_copy(conn, target, unique)
    return StagedUpsert(conn, target, method, len(received), unique)


def upsert_latest(conn: Connection, target: Table, rows: Iterable[Row], method: Method = "copy") -> UpsertResult:
    """Apply a batch inside the caller's transaction; the caller commits (or rolls back)."""
    return stage_latest(conn, target, rows, method).apply()


def version_conflicts(
    conn: Connection, target: Table, rows: Sequence[Row], watch: Sequence[Any] = (), columns: tuple[str, ...] = ()
) -> tuple[list[tuple[int, str]], dict[Any, tuple[Any, ...]]]:
    """Rows whose entity already has their version from another event: (index, why); and the stored rows watched.

    The first event applied at a version wins; a later one at the same version with another
    event id is not a redelivery but a conflict, to be set aside. Checked against earlier rows
    of the batch and against the table (one indexed join). In the same round trip, the stored
    ``(version, *columns)`` of the ``watch`` keys (an aggregator's reads before the upsert).
    """
    key = key_of(target)
    first: dict[tuple[Any, int], Any] = {}
    found: list[tuple[int, str]] = []
    for index, row in enumerate(rows):
        winner = first.setdefault((row[key], row["version"]), row["event_id"])
        if winner != row["event_id"]:
            found.append((index, f"{key} {row[key]} v{row['version']} already set by event {winner}"))
    columns = columns if watch else ()
    params: dict[str, Any] = {
        "keys": uuids([row[key] for row in rows]),
        "versions": int8s([row["version"] for row in rows]),
    }
    table_events: dict[tuple[Any, int], Any] = {}
    stored: dict[Any, tuple[Any, ...]] = {}
    # On the driver, as the batch's other statements: SQLAlchemy's ``execute`` of a text clause
    # cost 0.3 ms of CPU more, twice the round trip itself (this check, a 33-event batch:
    # 1.35-1.48 -> 0.64-0.77 ms of CPU; GUIDE/KAFKA_BENCHMARK_GUIDE.md, session 13).
    found_rows = driver(conn).execute(
        _conflict_query(target, columns), params | ({"watch": uuids(watch)} if watch else {})
    )
    for k, v, e, *rest in found_rows:
        if rest and rest[-1]:  # a watched key's stored row
            stored[k] = (v, *rest[:-1])
        else:
            table_events[(k, v)] = e
    in_batch = {index for index, _ in found}
    for index, row in enumerate(rows):
        winner = table_events.get((row[key], row["version"]))
        if winner is not None and winner != row["event_id"] and index not in in_batch:
            found.append((index, f"{key} {row[key]} v{row['version']} already set by event {winner}"))
    return sorted(found), stored


@cache
def _conflict_query(target: Table, columns: tuple[str, ...] = ()) -> str:
    key = key_of(target)
    extra = "".join(f', t."{name}"' for name in columns)
    pairs = (
        f'SELECT t."{key}", t.version, t.event_id{extra}{", false" if columns else ""} FROM "{target.name}" t'
        " JOIN unnest(%(keys)b::uuid[], %(versions)b::bigint[]) AS b(k, v)"
        f' ON t."{key}" = b.k AND t.version = b.v'
    )
    if not columns:
        return pairs
    # One primary-key lookup per watched key (LIMIT 1 keeps the planner from turning it into a
    # second scan of the whole table): a few hundred keys, whatever the table's size or statistics.
    watched = (
        f'SELECT t."{key}", t.version, t.event_id{extra}, true FROM unnest(%(watch)b::uuid[]) AS w(k)'
        f' CROSS JOIN LATERAL (SELECT * FROM "{target.name}" t WHERE t."{key}" = w.k LIMIT 1) AS t'
    )
    return f"{pairs} UNION ALL {watched}"


# --- reading back (verify, console) ---------------------------------------------------------------
def row_count(conn: Connection, target: Table) -> int:
    """Rows in a table."""
    return conn.execute(select(func.count()).select_from(target)).scalar_one()


def row_versions(conn: Connection, target: Table) -> dict[UUID, int]:
    """Every key and its applied version, for reconciliation against a topic."""
    key = target.c[key_of(target)]
    return {entity: version for entity, version in conn.execute(select(key, target.c.version))}


@dataclass(frozen=True)
class Orphans:
    """Orders whose user or product row does not exist (yet)."""

    missing_user: int
    missing_product: int

    @property
    def total(self) -> int:
        """Orders missing at least one side counted once per side."""
        return self.missing_user + self.missing_product


def orphan_orders(conn: Connection) -> Orphans:
    """Count orders without a matching user row and without a matching product row."""
    orders, users, products = Order.__table__, User.__table__, Product.__table__

    def missing(parent: Table, key: str) -> int:
        orphan = ~select(parent.c[key]).where(parent.c[key] == orders.c[key]).exists()
        return conn.execute(select(func.count()).select_from(orders).where(orphan)).scalar_one()

    return Orphans(missing(users, "user_id"), missing(products, "product_id"))
