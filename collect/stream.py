"""The realtime mix: one catalogue, three generators, one clock.

The realtime generator (apps/pipeline/produce.py) and the benchmarks draw events from
here; the app only decides *when*. Feed ``catalogue.acknowledge`` from the producer's delivery
callback so that new users become orderable once Kafka has them.
"""

from __future__ import annotations

from collections.abc import Iterator

from collect.catalogue import Catalogue
from collect.clock import Clock
from collect.order_generator import OrderGenerator
from collect.pools import Pools
from collect.product_generator import ProductGenerator
from collect.user_generator import UserGenerator
from common.events import Event, OrderEvent, ProductEvent, UserEvent

# Load-mode mix (cumulative): new orders, lifecycle steps, product updates, sign-ups, user updates.
LOAD_MIX = {"order.created": 0.30, "order.step": 0.30, "product.updated": 0.30, "user.created": 0.05}


class RealtimeStream:
    """Events for the realtime stream; ``seed`` names the catalogue, ``live_seed`` this run."""

    def __init__(self, pools: Pools, seed: int, clock: Clock, live_seed: int | None = None) -> None:
        live = seed if live_seed is None else live_seed
        self.clock = clock
        self.catalogue = Catalogue()
        self.users = UserGenerator(pools, seed, live)
        self.products = ProductGenerator(pools, seed, live)
        self.orders = OrderGenerator(self.catalogue, live)
        self._rng = self.orders._rng
        self._thresholds = _cumulative(LOAD_MIX)

    def load_catalogue(self, users: int, products: int) -> None:
        """Rebuild the seeder's catalogue and treat it as acknowledged (the seeder ran first)."""
        for user in self.users.catalogue(users):
            self.catalogue.acknowledge(user)
        for product in self.products.catalogue(products):
            self.catalogue.acknowledge(product)

    def new_orders(self, count: int) -> list[OrderEvent]:
        """Up to ``count`` new orders (none while no user or product is acknowledged)."""
        created = (self.orders.create(self.clock) for _ in range(count))
        return [event for event in created if event is not None]

    def order_steps(self, count: int) -> list[OrderEvent]:
        """Up to ``count`` lifecycle steps of open orders."""
        steps = (self.orders.advance(self.clock) for _ in range(count))
        return [event for event in steps if event is not None]

    def product_updates(self, count: int) -> list[ProductEvent]:
        return [self.products.updated(self.clock) for _ in range(count)]

    def new_user(self) -> UserEvent:
        return self.users.created(self.clock)

    def user_update(self) -> UserEvent:
        return self.users.updated(self.clock)

    def next_event(self) -> Event:
        """One event of the load-mode mix; falls back to what is possible right now."""
        roll, kind = self._rng.random(), "user.updated"
        for candidate, limit in self._thresholds:
            if roll < limit:
                kind = candidate
                break
        event: Event | None = None
        if kind == "order.step":
            event = self.orders.advance(self.clock) or self.orders.create(self.clock)
        elif kind == "order.created":
            event = self.orders.create(self.clock)
        elif kind == "user.updated" and self.users.users:
            event = self.users.updated(self.clock)
        elif kind == "product.updated" and self.products.products:
            event = self.products.updated(self.clock)
        return event or self.users.created(self.clock)

    def events(self, count: int) -> Iterator[Event]:
        """``count`` events of the load-mode mix."""
        for _ in range(count):
            yield self.next_event()


def _cumulative(mix: dict[str, float]) -> list[tuple[str, float]]:
    total, out = 0.0, []
    for kind, share in mix.items():
        total += share
        out.append((kind, total))
    return out
