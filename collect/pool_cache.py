"""Faker's value pools kept on disk: built once per machine, not once per seeding process.

Building the pools asks Faker for about 6,000 values: 0.2-0.45 s on the 2-core machine, an
eighth to a quarter of a whole 30,000-event seed on a warm cluster (the seeder's flame graph).
They depend only on the locale, the seed, the size, Faker's and Python's versions and the code
that draws them, so a pickle named by a digest of all of those is the same value; anything else
(another Faker, an edited vocabulary) gets another name and is built afresh. A cache that cannot
be read or written is ignored, and the pools are built as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from functools import lru_cache
from pathlib import Path

import faker

from collect import pools as pools_module
from collect import vocabulary
from collect.pools import Pools, build_pools
from common.settings import PROJECT_ROOT

log = logging.getLogger(__name__)
CACHE_DIR = PROJECT_ROOT / ".cache" / "pools"


def cache_path(directory: Path, locale: str, seed: int, size: int) -> Path:
    """The file for these pools: a digest of every input, the drawing code included."""
    digest = hashlib.sha256(f"{locale}|{seed}|{size}|{faker.VERSION}|{sys.version_info[:2]}".encode())
    for module in (pools_module, vocabulary):
        digest.update(Path(module.__file__ or "").read_bytes())
    return directory / f"pools-{locale}-{seed}-{digest.hexdigest()[:16]}.pickle"


@lru_cache(maxsize=8)
def cached_pools(locale: str = "ko_KR", seed: int = 42, size: int = 1_000, directory: Path = CACHE_DIR) -> Pools:
    """``build_pools(locale, seed, size)``, read from ``directory`` when an earlier process built it."""
    path = cache_path(directory, locale, seed, size)
    try:
        found = pickle.loads(path.read_bytes())
        if isinstance(found, Pools):
            return found
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as exc:
        log.warning("unreadable pool cache ignored", extra={"path": str(path), "error": str(exc)})
    built = build_pools(locale, seed, size)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)  # atomic: a concurrent reader sees the whole file or none
    except OSError as exc:
        log.info("pool cache not written", extra={"path": str(path), "error": str(exc)})
    return built
