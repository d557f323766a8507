"""`billbridge keys status|rotate`: the encryption keys, and re-encrypting everything under a new one."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli_args import one_line_errors
from resources.configuration import current_config
from resources.crypto import KeyProblem, add_key, load_key_ring
from resources.key_rotation import rotate_everything
from resources.warehouse import Warehouse


def cmd_keys_status(args: argparse.Namespace) -> int:
    """Where the keys come from, their ids and which one is active."""
    ring = load_key_ring()
    print(f"keys from {ring.source}:")
    for key_id in ring.keys:
        mark = "active" if key_id == ring.active else "decrypts older values"
        print(f"  {key_id:16} created {ring.created.get(key_id) or '?':25} {mark}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Make a new key active and re-encrypt every stored value under it (old keys stay to read backups)."""
    ring = add_key(load_key_ring())
    from resources import field_crypto

    field_crypto._ring_for.cache_clear()  # this process now encrypts with the new key
    report = rotate_everything(Warehouse(), current_config().entity_ids, ring)
    print(f"new active key {ring.active}; re-encrypted {sum(report.values.values()):,} value(s)")
    for place, count in sorted(report.values.items()):
        print(f"  {place:45} {count:>10,}")
    return 0


def _one_line(func: Any) -> Any:
    return one_line_errors(func, KeyProblem)


def register(subparsers: Any) -> None:
    """Add `billbridge keys ...`."""
    keys = subparsers.add_parser("keys", help="encryption keys of personal data and the token store")
    sub = keys.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="key ids and the active one").set_defaults(func=_one_line(cmd_keys_status))
    rotate = sub.add_parser("rotate", help="a new active key; re-encrypt everything under it in place")
    rotate.set_defaults(func=_one_line(cmd_keys_rotate))
