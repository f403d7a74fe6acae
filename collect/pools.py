"""Value pools built from Faker once, then combined per record.

Faker costs 10-50 us per name, email or address, far too slow to call per event (the goal is
50,000 events/s on one core). We ask Faker once for a few thousand parts, seeded, and combine
them with a seeded ``random.Random``: names from family x given names, e-mails from romanized
user names x real mail domains, addresses from whole Faker addresses plus a unit number. The
result is as realistic as Faker's own output and identical for a given locale, seed and Faker
version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from random import Random
from typing import TypeVar
from uuid import UUID, SafeUUID

from faker import Faker

from collect.vocabulary import Category, for_locale

_ASCII_USER = re.compile(r"^[a-z0-9._]{3,30}$")
_FAMILY_NAME_FIRST = ("ko", "ja", "zh")
_CENT = Decimal("0.01")
T = TypeVar("T")


@dataclass(frozen=True)
class Pools:
    """Immutable parts to combine; the methods draw from them with the caller's ``Random``."""

    locale: str
    korean: bool
    family_name_first: bool
    last_names: tuple[str, ...]  # duplicates kept: Faker's frequency (Kim, Lee, Park ...) survives
    first_names: tuple[str, ...]
    user_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    addresses: tuple[tuple[str, str], ...]  # (address, city)
    phones: tuple[str, ...]
    brands: tuple[str, ...]
    categories: tuple[Category, ...]
    qualifiers: tuple[str, ...]
    variants: tuple[str, ...]

    def person_name(self, rng: Random) -> str:
        """Family name first and unspaced in East Asian locales, "Given Family" elsewhere."""
        last, first = pick(rng, self.last_names), pick(rng, self.first_names)
        return f"{last}{first}" if self.family_name_first else f"{first} {last}"

    def email(self, rng: Random, tag: int) -> str:
        """``tag`` (a seed index or a clock version) makes the address unique per user."""
        return f"{pick(rng, self.user_names)}.{tag:x}@{pick(rng, self.email_domains)}"

    def phone(self, rng: Random) -> str:
        """Korean mobile numbers (010-XXXX-XXXX) are drawn digit by digit; others from the pool."""
        if self.korean:
            return f"010-{2000 + int(rng.random() * 8000)}-{int(rng.random() * 10000):04d}"
        return pick(rng, self.phones)

    def address(self, rng: Random) -> tuple[str, str]:
        """An address with a unit number, and its city."""
        street, city = pick(rng, self.addresses)
        unit = 101 + int(rng.random() * 1900)
        return (f"{street} {unit}호" if self.korean else f"{street} #{unit}"), city

    def price(self, rng: Random, category: Category) -> Decimal:
        """Log-uniform in the category's range, ending in 900 won (or .90 in minor-unit locales)."""
        won = category.min_price * (category.max_price / category.min_price) ** rng.random()
        won = max(int(won / 1000 + 1) * 1000 - 100, 100)
        return Decimal(won) if self.korean else (Decimal(won) / 1000).quantize(_CENT)


def _city_of_korean_address(address: str) -> str:
    """'경기도 성남시 수정구 ...' -> '성남시'; '서울특별시 은평구 ...' -> '서울특별시'."""
    tokens = address.split()
    for token in tokens[:3]:
        if token.endswith(("시", "군")):
            return token
    return tokens[0]


@lru_cache(maxsize=8)
def build_pools(locale: str = "ko_KR", seed: int = 42, size: int = 1_000) -> Pools:
    """Ask Faker for ``size`` parts of each kind (about 0.3 s); cached per locale and seed."""
    fake = Faker(locale)
    fake.seed_instance(seed)
    korean = locale.lower().startswith("ko")
    user_names = [u for u in (fake.user_name().lower() for _ in range(size)) if _ASCII_USER.match(u)]
    addresses = []
    for _ in range(size):
        street = fake.street_address()
        city = _city_of_korean_address(street) if korean else fake.city()
        addresses.append((street, city))
    categories, qualifiers, variants = for_locale(locale)
    brands = {re.sub(r"^(\(.\)|주식회사|유한회사)\s*|\s*\(.\)$", "", fake.company()) for _ in range(size // 5)}
    return Pools(
        locale=locale,
        korean=korean,
        family_name_first=locale[:2].lower() in _FAMILY_NAME_FIRST,
        last_names=tuple(fake.last_name() for _ in range(size)),
        first_names=tuple(fake.first_name() for _ in range(size)),
        user_names=tuple(user_names) or ("user",),
        email_domains=tuple(fake.free_email_domain() for _ in range(size // 10)),
        addresses=tuple(addresses),
        phones=() if korean else tuple(fake.phone_number() for _ in range(size)),
        brands=tuple(sorted(brands)),
        categories=categories,
        qualifiers=qualifiers,
        variants=variants,
    )


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (4 << 76) | (0x8000 << 48)
_UNKNOWN_SAFETY = SafeUUID.unknown


def uuid_from(rng: Random) -> UUID:
    """A version-4 UUID drawn from a seeded ``Random``: reproducible, and 4x cheaper than uuid5.

    Equal to ``UUID(int=rng.getrandbits(128), version=4)``, built without ``UUID.__init__``'s
    argument checks (0.6 us of the 1.4 us it costs).
    """
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", (rng.getrandbits(128) & _V4_CLEAR) | _V4_SET)
    object.__setattr__(uuid, "is_safe", _UNKNOWN_SAFETY)
    return uuid


def pick(rng: Random, items: Sequence[T]) -> T:
    """``rng.choice`` at half the cost (one ``random()`` call, no rejection sampling)."""
    return items[int(rng.random() * len(items))]
