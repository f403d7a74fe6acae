"""SQLAlchemy models: one table per entity topic, each row the entity's latest applied version.

Every row carries the bookkeeping that makes the consumers idempotent and auditable:
``version`` (the guard: an event is applied only when its version is higher), ``event_id``
(which event set the row), ``occurred_at``/``produced_at`` (from the event, for end-to-end
latency) and ``applied_at`` (when the consumer wrote it).

``orders.user_id`` and ``orders.product_id`` are indexed but have no foreign key: the three
topics are consumed by independent groups, so an order can legitimately arrive before its
user or product. A hard FK would turn that race into a failed batch; instead the order is
stored and ``verify`` reports orphans (see GUIDE/DB_README.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, Numeric, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base for every table."""


class Versioned:
    """Columns every entity row keeps about the event that last set it."""

    version: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    produced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Versioned, Base):
    """A customer account (topic ``users``)."""

    __tablename__ = "users"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(100))
    signed_up_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Product(Versioned, Base):
    """A catalogue item (topic ``products``)."""

    __tablename__ = "products"

    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100))
    brand: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    stock: Mapped[int] = mapped_column(Integer)


class Order(Versioned, Base):
    """One order line in its latest lifecycle state (topic ``orders``); no FK on purpose."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total_amount = unit_price * quantity", name="orders_amounts_add_up"),)

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(16))


class ConsumerOffset(Base):
    """Next offset to read per group and partition, written in the transaction of the batch it ends.

    The consumers' source of truth for positions (Kafka's committed offsets only mirror it, for
    lag); a batch advances it by compare-and-set from the offset the batch started at.
    """

    __tablename__ = "consumer_offsets"

    group_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProductMinuteSales(Base):
    """Paid orders per product per minute (UTC), net of cancellations (see GUIDE/DB_README.md)."""

    __tablename__ = "product_minute_sales"

    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)
    revenue: Mapped[Decimal] = mapped_column(Numeric(18, 2))


class CustomerSales(Base):
    """Paid orders and spend per customer, net of cancellations, and when they last paid."""

    __tablename__ = "customer_sales"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    last_order_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


TABLES = {"users": User.__table__, "products": Product.__table__, "orders": Order.__table__}


def table_named(name: str) -> Table:
    """An entity's table by its name (``common/entities.py`` names tables, it does not import them)."""
    try:
        return Base.metadata.tables[name]
    except KeyError:
        raise ValueError(f"no table {name!r} in the models; known: {', '.join(TABLES)}") from None


AGGREGATES = {"product_minute_sales": ProductMinuteSales.__table__, "customer_sales": CustomerSales.__table__}


# --- reconciliation state (``manage.py verify``) ---------------------------------------------------
# What verify has read so far, so a repeated run reads only newer messages (migration 0002).
class VerifyPosition(Base):
    """Per reader and source partition: the next offset to read."""

    __tablename__ = "verify_positions"

    reader: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)


class VerifyEntity(Base):
    """Per source and entity: the latest version read and a hash of the row its event maps to."""

    __tablename__ = "verify_entities"

    source: Mapped[str] = mapped_column(String(249), primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID]
    content: Mapped[uuid.UUID]  # md5 of the mapped columns, stored as a uuid (16 bytes)


class VerifyDeadLetter(Base):
    """A source position that failed the schema or was dead-lettered, and how many dead letters it has."""

    __tablename__ = "verify_dead_letters"

    source: Mapped[str] = mapped_column(String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    invalid: Mapped[bool] = mapped_column(default=False)
    dead_letters: Mapped[int] = mapped_column(Integer, default=0)


class VerifyFold(Base):
    """A plug-in reconciler's JSON state, saved with the positions it was folded up to."""

    __tablename__ = "verify_folds"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[dict] = mapped_column(JSONB)


class VerifyResult(Base):
    """One finished verify run: the console shows the latest."""

    __tablename__ = "verify_results"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    took_s: Mapped[float]
    exit_code: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSONB)


# What verify keeps between runs (its role writes these and only these).
VERIFY_STATE = {
    t.__tablename__: t.__table__ for t in (VerifyPosition, VerifyEntity, VerifyDeadLetter, VerifyFold, VerifyResult)
}
