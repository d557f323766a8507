"""Entity-affine routing for the Celery executor (docs/decisions/0037): which worker queue an entity's steps go to.

DuckDB admits one writer process per file and every entity has its own file, so every step
that touches entity E goes to one queue, `billbridge-<shard of E>`, and one worker with a
single execution slot consumes that queue. The shard is CRC-32 of the entity id modulo the
shard count: stable across processes, machines and Python versions (Python's `hash()` of a
string is salted per process, so two workers would disagree).
"""

from __future__ import annotations

import zlib

QUEUE_PREFIX = "billbridge-"


def shard_of(entity: str, shards: int) -> int:
    """The shard (0 .. shards-1) that owns `entity`'s warehouse file."""
    if shards < 1:
        raise ValueError(f"the shard count must be at least 1, not {shards}")
    return zlib.crc32(entity.encode("utf-8")) % shards


def queue_name(shard: int) -> str:
    """The Celery queue of a shard: the one queue its worker consumes."""
    return f"{QUEUE_PREFIX}{shard}"


def queue_of(entity: str, shards: int) -> str:
    """The Celery queue every step of `entity`'s runs is sent to."""
    return queue_name(shard_of(entity, shards))


def all_queues(shards: int) -> list[str]:
    """Every shard's queue, in shard order (one worker each)."""
    return [queue_name(shard) for shard in range(shards)]
