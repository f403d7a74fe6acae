"""Orders and their lifecycle: created -> paid -> shipped -> delivered, or cancelled.

Every step is a new ``OrderEvent`` with the same order id and a higher version (from the
``Clock``). Orders only reference acknowledged users and products (see ``Catalogue``), and the
amounts add up: ``total_amount = unit_price x quantity`` with the product's current price.
"""

from __future__ import annotations

from random import Random
from uuid import UUID

from collect.built import build, replaced
from collect.catalogue import Catalogue
from collect.clock import Clock
from collect.pools import pick, uuid_from
from common.events import ORDER_TRANSITIONS, OrderEvent, OrderPayload

# Most orders buy one item; a few buy up to five.
_QUANTITIES = (1,) * 12 + (2,) * 5 + (3,) * 2 + (4, 5)
# How likely an open order takes its lifecycle's forward step (ORDER_TRANSITIONS' first move);
# the remainder takes the other move, a cancellation.
_FORWARD_CHANCE = {"created": 0.85, "paid": 0.93, "shipped": 1.0}


class OrderGenerator:
    """Creates orders and moves open orders along; finished orders are forgotten."""

    def __init__(self, catalogue: Catalogue, seed: int) -> None:
        self.catalogue = catalogue
        self._rng = Random(f"{seed}:orders")
        self.open: dict[UUID, OrderPayload] = {}
        self._open_ids: list[UUID] = []
        self._position: dict[UUID, int] = {}

    def create(self, clock: Clock) -> OrderEvent | None:
        """``order.created`` for a random acknowledged user and product; None while none is known."""
        if not self.catalogue.ready:
            return None
        rng = self._rng
        user_id, product_id, price = self.catalogue.pick(rng)
        quantity = pick(rng, _QUANTITIES)
        payload = build(
            OrderPayload,
            order_id=uuid_from(rng),
            user_id=user_id,
            product_id=product_id,
            quantity=quantity,
            unit_price=price,
            total_amount=price * quantity,
            status="created",
        )
        self._position[payload.order_id] = len(self._open_ids)
        self._open_ids.append(payload.order_id)
        self.open[payload.order_id] = payload
        return self._event(payload, clock)

    def advance(self, clock: Clock, order_id: UUID | None = None) -> OrderEvent | None:
        """Move an open order (random unless given) one step; None when no order is open."""
        if not self._open_ids:
            return None
        rng = self._rng
        order_id = order_id or pick(rng, self._open_ids)
        payload = self.open[order_id]
        forward, *other = ORDER_TRANSITIONS[payload.status]
        status = forward if rng.random() < _FORWARD_CHANCE[payload.status] or not other else other[0]
        payload = replaced(payload, status=status)
        if not ORDER_TRANSITIONS[status]:  # delivered or cancelled: the order is finished
            self._close(order_id)
        else:
            self.open[order_id] = payload
        return self._event(payload, clock)

    def _close(self, order_id: UUID) -> None:
        """Swap-remove from the open list in O(1)."""
        del self.open[order_id]
        index = self._position.pop(order_id)
        last = self._open_ids.pop()
        if last != order_id:
            self._open_ids[index] = last
            self._position[last] = index

    def _event(self, payload: OrderPayload, clock: Clock) -> OrderEvent:
        version, now = clock.tick()
        return build(
            OrderEvent,
            event_id=uuid_from(self._rng),
            entity_id=payload.order_id,
            version=version,
            occurred_at=now,
            event_type=f"order.{payload.status}",
            payload=payload,
        )
