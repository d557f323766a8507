"""A directory list judged once and kept for every entity's extraction (decision 0050).

Every entity keeps the whole PM directory, and judging it (screening, profiling, hashing and sealing
each record's personal fields) is the same work whatever the entity: at 20,000 clients, 263k records
per entity per close. The first entity to judge a directory reading keeps the judgement beside the
reading, in the page store's format: a first line with the counts, the held ids and the payload
profile, then the records kept and the rejections as Parquet chunks, each line sealed like a reading's
page when field encryption is on (the records' personal fields are sealed inside as well). The next
entity takes it instead of the pages, with its own entity, run and moment in every row
(`JudgedList.for_scope`).
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from datetime import datetime
from typing import Any

import polars as pl

from resources.account_pages import AccountPageStore, PageStoreDamaged
from resources.field_crypto import encrypt_frame
from resources.raw_store import VERSIONS
from rules.drift import FieldProfile, PayloadProfile
from rules.raw_slices import DIRECTORY_COLUMNS, INTERCOMPANY_COLUMNS, REJECTION_COLUMNS, JudgedList

JUDGEMENT = 1  # the judging rules' version: a judgement kept under another is not reused
CHUNK_ROWS = 25_000
FRAMES = ("kept", "rejections")


def judged_key(key: str) -> str:
    """The store's name for the judgement of the reading `key`."""
    return f"{key}.judged-{JUDGEMENT}"


def sealed(judged: JudgedList) -> JudgedList:
    """`judged` with its kept records' personal fields sealed, as the raw store writes them."""
    if judged.sealed:
        return judged
    return JudgedList(
        encrypt_frame(VERSIONS, judged.kept), judged.elsewhere, judged.rejections, judged.held_ids,
        judged.profile, judged.pages, judged.record_versions, sealed=True,
    )  # fmt: skip


def keep_judged(store: AccountPageStore, key: str, read_at: datetime, judged: JudgedList) -> None:
    """Keep the judgement of the reading `key` that started at `read_at` (its kept records sealed)."""
    name = judged_key(key)
    with store.keeping([name], read_at) as write:
        write[name]({"meta": _meta(judged)})
        for frame_name in FRAMES:
            frame: pl.DataFrame = getattr(judged, frame_name)
            for chunk in frame.iter_slices(CHUNK_ROWS):
                write[name]({"frame": frame_name, "parquet": _parquet(chunk)})


def has_judged(store: AccountPageStore, key: str, read_at: datetime) -> bool:
    """Whether the judgement of the reading `key` that started at `read_at` is kept (its header only)."""
    kept = store.open(judged_key(key))
    if kept is None:
        return False
    kept.close()
    return kept.read_at == read_at


def open_judged(store: AccountPageStore, key: str, read_at: datetime) -> JudgedList | None:
    """The judgement kept for the reading `key` that started at `read_at` (None: none, or another's)."""
    kept = store.open(judged_key(key))
    if kept is None:
        return None
    if kept.read_at != read_at:
        kept.close()
        return None
    meta: dict[str, Any] | None = None
    chunks: dict[str, list[pl.DataFrame]] = {name: [] for name in FRAMES}
    for line in kept.pages():
        if "meta" in line:
            meta = line["meta"]
        else:
            chunks[line["frame"]].append(pl.read_parquet(io.BytesIO(base64.b64decode(line["parquet"]))))
    if meta is None:
        raise PageStoreDamaged(f"{kept.path}: a kept judgement without its counts; delete it to judge again")
    return JudgedList(
        _frame(chunks["kept"], DIRECTORY_COLUMNS), pl.DataFrame(schema=INTERCOMPANY_COLUMNS),
        _frame(chunks["rejections"], REJECTION_COLUMNS), frozenset(meta["held_ids"]),
        _profile(meta["profile"]), meta["pages"], meta["record_versions"], sealed=True,
    )  # fmt: skip


def _frame(chunks: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    return pl.concat(chunks) if chunks else pl.DataFrame(schema=schema)


def _parquet(frame: pl.DataFrame) -> str:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _meta(judged: JudgedList) -> dict[str, Any]:
    profile = judged.profile
    fields = {path: [p.present, p.nulls, dict(p.types)] for path, p in profile.fields.items()}
    return {
        "held_ids": sorted(judged.held_ids),
        "pages": judged.pages,
        "record_versions": judged.record_versions,
        "profile": {"records": profile.records, "fields": fields},
    }


def _profile(document: dict[str, Any]) -> PayloadProfile:
    profile = PayloadProfile(document["records"])
    for path, (present, nulls, types) in document["fields"].items():
        profile.fields[path] = FieldProfile(present, nulls, Counter(types))
    return profile
