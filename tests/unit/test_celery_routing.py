"""The entity-affine routing rule: stable, spread over the shards, one queue per shard."""

import pytest

from rules.celery_routing import all_queues, queue_of, shard_of


def test_the_demo_entities_spread_over_two_shards() -> None:
    # CRC-32 by hand (zlib): us 0xda9dbfca and uk even, de and group odd.
    assert {entity: shard_of(entity, 2) for entity in ("us", "uk", "de", "group")} == {
        "us": 0,
        "uk": 0,
        "de": 1,
        "group": 1,
    }
    assert queue_of("de", 2) == "billbridge-1"
    assert queue_of("uk", 3) == "billbridge-1"


def test_one_shard_takes_everything_and_queues_are_numbered() -> None:
    assert {shard_of(entity, 1) for entity in ("us", "uk", "de", "any")} == {0}
    assert all_queues(3) == ["billbridge-0", "billbridge-1", "billbridge-2"]


def test_a_shard_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("uk", 0)
