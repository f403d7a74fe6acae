"""Users: a deterministic seed catalogue, then sign-ups and changes for the realtime stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from random import Random
from uuid import UUID

from collect.built import build, replaced
from collect.clock import CATALOGUE_EPOCH, Clock
from collect.pools import Pools, pick, uuid_from
from common.events import UserEvent, UserPayload

_THREE_YEARS_S = 3 * 365 * 24 * 3600


class UserGenerator:
    """Builds ``user.*`` events and remembers the latest payload of every user it made.

    ``seed`` fixes the catalogue (ids, names, versions 1); ``live_seed`` fixes the realtime
    draws, so a restarted generator can use a fresh ``live_seed`` without changing the catalogue.
    """

    def __init__(self, pools: Pools, seed: int, live_seed: int | None = None) -> None:
        self.pools = pools
        self.seed = seed
        self.users: dict[UUID, UserPayload] = {}
        self._ids: list[UUID] = []
        self._rng = Random(f"{seed if live_seed is None else live_seed}:users:live")

    def catalogue(self, count: int) -> Iterator[UserEvent]:
        """``user.created`` with version 1 for users 0..count-1; the same for the same seed.

        A smaller catalogue is a prefix of a larger one with the same seed.
        """
        rng = Random(f"{self.seed}:users:catalogue")
        for index in range(count):
            user_id, event_id = uuid_from(rng), uuid_from(rng)
            signed_up_at = CATALOGUE_EPOCH - timedelta(seconds=rng.randrange(_THREE_YEARS_S))
            yield self._created(rng, user_id, event_id, index, 1, signed_up_at)

    def created(self, clock: Clock) -> UserEvent:
        """A new sign-up; its clock version also makes its e-mail address unique."""
        version, now = clock.tick()
        return self._created(self._rng, uuid_from(self._rng), uuid_from(self._rng), version, version, now)

    def updated(self, clock: Clock, user_id: UUID | None = None) -> UserEvent:
        """A known user (random unless given) moved house and changed phone number."""
        if not self._ids:
            raise LookupError("no user to update: generate the catalogue or a sign-up first")
        user_id = user_id or pick(self._rng, self._ids)
        version, now = clock.tick()
        address, city = self.pools.address(self._rng)
        payload = replaced(self.users[user_id], address=address, city=city, phone=self.pools.phone(self._rng))
        self.users[user_id] = payload
        return build(
            UserEvent,
            event_id=uuid_from(self._rng),
            entity_id=user_id,
            version=version,
            occurred_at=now,
            event_type="user.updated",
            payload=payload,
        )

    def _created(self, rng: Random, user_id: UUID, event_id: UUID, tag: int, version: int, at: datetime) -> UserEvent:
        address, city = self.pools.address(rng)
        payload = build(
            UserPayload,
            user_id=user_id,
            name=self.pools.person_name(rng),
            email=self.pools.email(rng, tag),
            phone=self.pools.phone(rng),
            address=address,
            city=city,
            signed_up_at=at,
        )
        if user_id not in self.users:
            self._ids.append(user_id)
        self.users[user_id] = payload
        return build(
            UserEvent,
            event_id=event_id,
            entity_id=user_id,
            version=version,
            occurred_at=at,
            event_type="user.created",
            payload=payload,
        )
