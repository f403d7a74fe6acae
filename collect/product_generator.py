"""Products: a deterministic seed catalogue, then price and stock changes for the realtime stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from random import Random
from uuid import UUID

from collect.built import build, replaced
from collect.clock import CATALOGUE_EPOCH, Clock
from collect.pools import Pools, pick, uuid_from
from common.events import ProductEvent, ProductPayload

_TWO_YEARS_S = 2 * 365 * 24 * 3600
_PRICE_MOVES = tuple(Decimal(f) for f in ("0.80", "0.90", "0.95", "1.05", "1.10", "1.20"))


class ProductGenerator:
    """Builds ``product.*`` events and remembers the latest payload of every product it made.

    ``seed`` fixes the catalogue; ``live_seed`` fixes the realtime draws (see ``UserGenerator``).
    """

    def __init__(self, pools: Pools, seed: int, live_seed: int | None = None) -> None:
        self.pools = pools
        self.seed = seed
        self.products: dict[UUID, ProductPayload] = {}
        self._ids: list[UUID] = []
        self._rng = Random(f"{seed if live_seed is None else live_seed}:products:live")
        self._price_step = Decimal(100) if pools.korean else Decimal("0.01")

    def catalogue(self, count: int, start: int = 0) -> Iterator[ProductEvent]:
        """``product.created`` with version 1 for products start..count-1; the same for the same seed.

        The catalogue is one random sequence, so the products before ``start`` are drawn but not
        built (a fraction of their cost): another process sends them (``apps/pipeline/parallel_seed.py``).
        """
        rng, pools = Random(f"{self.seed}:products:catalogue"), self.pools
        for index in range(count):
            product_id, event_id = uuid_from(rng), uuid_from(rng)
            category = pick(rng, pools.categories)
            brand = pick(rng, pools.brands)
            words = pick(rng, pools.qualifiers), pick(rng, category.nouns), pick(rng, pools.variants)
            price, stock, age_s = pools.price(rng, category), rng.randrange(0, 500), rng.randrange(_TWO_YEARS_S)
            if index < start:
                continue
            payload = build(
                ProductPayload,
                product_id=product_id,
                name=f"{brand} {words[0]} {words[1]} {words[2]}",
                category=category.name,
                brand=brand,
                price=price,
                stock=stock,
            )
            self._ids.append(product_id)
            self.products[product_id] = payload
            yield build(
                ProductEvent,
                event_id=event_id,
                entity_id=product_id,
                version=1,
                occurred_at=CATALOGUE_EPOCH - timedelta(seconds=age_s),
                event_type="product.created",
                payload=payload,
            )

    def updated(self, clock: Clock, product_id: UUID | None = None) -> ProductEvent:
        """A sale, a price change or a restock of a known product (random unless given)."""
        if not self._ids:
            raise LookupError("no product to update: generate the catalogue first")
        rng = self._rng
        product_id = product_id or pick(rng, self._ids)
        old = self.products[product_id]
        change: dict[str, object] = {}
        roll = rng.random()
        if roll < 0.4:  # repriced, rounded to 100 won (or a cent)
            price = (old.price * pick(rng, _PRICE_MOVES) / self._price_step).quantize(1, ROUND_HALF_UP)
            change["price"] = max(price, Decimal(1)) * self._price_step
        if roll > 0.3:  # units sold, or a restock when it runs low
            change["stock"] = max(old.stock - rng.randrange(1, 20), 0) if old.stock > 20 else old.stock + 200
        payload = replaced(old, **change)
        self.products[product_id] = payload
        version, now = clock.tick()
        return build(
            ProductEvent,
            event_id=uuid_from(rng),
            entity_id=product_id,
            version=version,
            occurred_at=now,
            event_type="product.updated",
            payload=payload,
        )
