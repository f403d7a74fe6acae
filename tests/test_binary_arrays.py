"""The sums' hand-built binary arrays read back in PostgreSQL as the very values they were built from."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from database import binary_arrays as arrays


@pytest.fixture
def cursor(database_url):
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        yield conn.cursor()


def test_arrays_read_back_unchanged(cursor):
    ids = [uuid.uuid4() for _ in range(3)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    moments = [
        datetime(2026, 12, 1, 6, 30, 15, 123456, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before PostgreSQL's epoch
        datetime(2026, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=2))),  # another zone, the same instant
    ]
    counts = [1, -1, 0, 2**31 - 1, -(2**31)]  # the sums' signed counts and units
    amounts = [Decimal("0.00"), Decimal("12.34"), Decimal("-5.10"), Decimal("999999999999.99")]
    versions = [1, 0, 2**63 - 1, -(2**63)]
    cursor.execute(
        "SELECT %s::uuid[], %s::timestamptz[], %s::bigint[], %s::numeric[], %s::uuid[], %s::bigint[]",
        (arrays.uuids(ids), arrays.timestamptzs([arrays.micros(m) for m in moments]), arrays.int8s(counts),
         arrays.numeric_literal(amounts), arrays.uuids([]), arrays.int8s(versions)),
    )  # fmt: skip
    assert cursor.fetchone() == (ids, moments, counts, amounts, [], versions)


def test_bad_values_raise_before_anything_is_sent():
    with pytest.raises(TypeError):
        arrays.micros(datetime(2026, 12, 1))  # naive: no instant to send
    with pytest.raises(struct.error):
        arrays.int8s([2**63])
