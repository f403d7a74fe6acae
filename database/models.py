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

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, Numeric, String, func
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


TABLES = {"users": User.__table__, "products": Product.__table__, "orders": Order.__table__}
