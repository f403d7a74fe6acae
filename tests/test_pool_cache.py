"""The pools' disk cache: the same pools as Faker builds, and a broken or foreign cache never used."""

from __future__ import annotations

import pickle
from pathlib import Path

from collect.pool_cache import cache_path, cached_pools
from collect.pools import build_pools


def test_cached_pools_equal_built_pools_and_are_read_back(tmp_path: Path) -> None:
    built = build_pools("en_US", 3, 200)
    first = cached_pools("en_US", 3, 200, tmp_path)
    path = cache_path(tmp_path, "en_US", 3, 200)
    assert path.exists() and first == built
    cached_pools.cache_clear()
    assert cached_pools("en_US", 3, 200, tmp_path) == built  # now from the file
    assert cache_path(tmp_path, "en_US", 4, 200) != path and cache_path(tmp_path, "ko_KR", 3, 200) != path


def test_corrupt_or_foreign_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    """Break it on purpose: garbage, then a pickle of something else, where the pools should be."""
    path = cache_path(tmp_path, "en_US", 5, 200)
    built = build_pools("en_US", 5, 200)
    for planted in (b"not a pickle", pickle.dumps({"locale": "en_US"})):
        tmp_path.mkdir(exist_ok=True)
        path.write_bytes(planted)
        cached_pools.cache_clear()
        assert cached_pools("en_US", 5, 200, tmp_path) == built
        assert pickle.loads(path.read_bytes()) == built  # replaced by the real pools


def test_unwritable_cache_directory_still_gives_the_pools(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory should be")
    cached_pools.cache_clear()
    assert cached_pools("en_US", 6, 200, blocked / "pools") == build_pools("en_US", 6, 200)
