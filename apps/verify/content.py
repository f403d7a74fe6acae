r"""Content hashes: the same digest of a row, computed from an event in Python and from a table in SQL.

A row is right when it holds what its event maps to, not only the event's version: a row edited
behind the pipeline's back (``update users set name = ...``) or a lost update that kept the
version both change the digest. The event side goes through the sink's own row mapping
(``ConsumerSpec.to_row``), so the columns compared are exactly the columns written.

Each column becomes text the same way on both sides (uuid, integers and strings as PostgreSQL
prints them, numerics at the column's scale, timestamps in UTC with microseconds, NULL as ``\N``),
joined with the unit separator; the md5 of that text, as a uuid, is the digest.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, DateTime, Numeric, String, Table, cast, func, literal, literal_column
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from database.crud import BOOKKEEPING

SEPARATOR, NULL = "\x1f", "\\N"
TIMESTAMP_SQL, TIMESTAMP_PY = "YYYY-MM-DD HH24:MI:SS.US", "%Y-%m-%d %H:%M:%S.%f"


def hashed_columns(table: Table) -> list[Column[Any]]:
    """Every column the sink writes (the key, the payload, version, event id, timestamps)."""
    return [c for c in table.columns if c.name not in BOOKKEEPING]


def _text(column: Column[Any], value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(column.type, DateTime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime(TIMESTAMP_PY)
    if isinstance(column.type, Numeric) and column.type.scale is not None:
        exponent = Decimal(1).scaleb(-column.type.scale)
        return str(Decimal(value).quantize(exponent, rounding=ROUND_HALF_UP))
    return str(value)


def row_digest(table: Table, row: dict[str, Any]) -> UUID:
    """The digest of one mapped row (``to_row(event)``), as the table would hold it."""
    text = SEPARATOR.join(_text(c, row.get(c.name)) for c in hashed_columns(table))
    return UUID(hashlib.md5(text.encode(), usedforsecurity=False).hexdigest())


def _sql_text(column: Column[Any]) -> ColumnElement[str]:
    if isinstance(column.type, DateTime):
        text = func.to_char(func.timezone("UTC", column), TIMESTAMP_SQL)
    elif isinstance(column.type, String):
        text = column
    else:
        text = cast(column, String)
    return func.coalesce(text, literal(NULL))


def table_digest(table: Table) -> ColumnElement[UUID]:
    """The same digest as ``row_digest``, computed by PostgreSQL for every row of ``table``."""
    parts = [_sql_text(c) for c in hashed_columns(table)]
    joined = func.concat_ws(literal_column("chr(31)"), *parts)
    return cast(func.md5(joined), PG_UUID(as_uuid=True))
