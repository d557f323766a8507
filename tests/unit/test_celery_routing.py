"""The entity-affine routing: a stable rule spread over the shards, runs routed by entity, jobs on Celery."""

import pytest

from pipelines.celery_executor import entity_of_run, shard_count
from pipelines.definitions import defs
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


def test_a_run_is_routed_by_its_entity_tag_else_its_partition_tag() -> None:
    assert entity_of_run({"billbridge/entity": "de", "dagster/partition/entity": "uk"}) == "de"
    assert entity_of_run({"dagster/partition/entity": "uk"}) == "uk"  # a run launched from the UI
    assert entity_of_run({}) == "group"


def test_the_shard_count_comes_from_the_environment_and_a_bad_one_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BILLBRIDGE_CELERY_SHARDS", raising=False)
    assert shard_count() == 2
    monkeypatch.setenv("BILLBRIDGE_CELERY_SHARDS", "3")
    assert shard_count() == 3
    monkeypatch.setenv("BILLBRIDGE_CELERY_SHARDS", "0")
    with pytest.raises(ValueError, match="BILLBRIDGE_CELERY_SHARDS must be a whole number of at least 1"):
        shard_count()


def test_the_celery_variants_are_in_the_definitions_and_the_defaults_stay_in_process() -> None:
    for name in ("extract_and_normalize", "bill_and_post", "export_ledger", "consolidate_group"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process"
        variant = defs.resolve_job_def(f"{name}_celery")
        assert variant.executor_def.name == "billbridge_celery"
        assert variant.partitions_def == defs.resolve_job_def(name).partitions_def
