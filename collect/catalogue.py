"""What an order may reference: users and products whose events Kafka has acknowledged."""

from __future__ import annotations

from decimal import Decimal
from random import Random
from uuid import UUID

from collect.pools import pick
from common.events import Event, ProductEvent, UserEvent


class Catalogue:
    """Acknowledged user ids, and acknowledged product ids with their latest acknowledged price.

    Fill it from the producer's delivery callback (``acknowledge``), never at send time: an
    event that is sent but not yet acknowledged may still fail, and an order must not point at a
    user or product that never reached Kafka.
    """

    def __init__(self) -> None:
        self._users: list[UUID] = []
        self._user_set: set[UUID] = set()
        self._products: list[UUID] = []
        self.prices: dict[UUID, Decimal] = {}

    def add_user(self, user_id: UUID) -> None:
        """Called once a user's event is acknowledged; repeats are ignored."""
        if user_id not in self._user_set:
            self._user_set.add(user_id)
            self._users.append(user_id)

    def add_product(self, product_id: UUID, price: Decimal) -> None:
        """Called once a product's event is acknowledged; a later ack updates the price."""
        if product_id not in self.prices:
            self._products.append(product_id)
        self.prices[product_id] = price

    def acknowledge(self, event: Event) -> None:
        """Delivery-callback hook: remember the entity of an acknowledged user or product event."""
        if isinstance(event, UserEvent):
            self.add_user(event.entity_id)
        elif isinstance(event, ProductEvent):
            self.add_product(event.entity_id, event.payload.price)

    def has_user(self, user_id: UUID) -> bool:
        return user_id in self._user_set

    def has_product(self, product_id: UUID) -> bool:
        return product_id in self.prices

    @property
    def ready(self) -> bool:
        """True once at least one user and one product can be ordered."""
        return bool(self._users and self._products)

    def pick(self, rng: Random) -> tuple[UUID, UUID, Decimal]:
        """A random acknowledged (user, product, current price); the catalogue must be ``ready``."""
        product_id = pick(rng, self._products)
        return pick(rng, self._users), product_id, self.prices[product_id]

    def __len__(self) -> int:
        return len(self._users) + len(self._products)
