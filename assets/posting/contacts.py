"""The contacts a pass's documents name: remembered, else found in the ledger in bulk, else created in batches.

Exactly once, as for documents (decisions 0005, 0044): a contact is looked up before it is created,
a create is retried only under its idempotency key, and the ledger refuses a second active contact
of the same name, so a create whose first attempt was booked (the answer lost, the key forgotten)
comes back refused for those names, and they are looked up again instead of being created twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from assets.posting.posting_pass import PostingPass
from resources.xero import MAX_CONTACTS_PER_CALL
from rules.outbound_payloads import idempotency_key


class ContactRefusedError(RuntimeError):
    """The ledger refused to create a contact for a reason other than its name being taken."""


def resolve_contacts(posting: PostingPass, names: Iterable[str]) -> dict[str, str]:
    """ContactID by name for every one of `names`; the ones new to this entity are remembered in one go."""
    wanted = sorted(set(names))
    known = posting.store.contacts(wanted)
    missing = [name for name in wanted if name not in known]
    if not missing:
        return known
    xero, tenant, record = posting.xero, posting.tenant, posting.record
    found = xero.find_contact_ids(tenant, missing, recorder=record)
    new = [name for name in missing if name not in found]
    for start in range(0, len(new), MAX_CONTACTS_PER_CALL):
        batch = new[start : start + MAX_CONTACTS_PER_CALL]
        key = idempotency_key(f"contacts:{posting.entity.id}", "\n".join(batch))
        answer = xero.create_contacts(tenant, batch, key, recorder=record)
        found.update(answer.created)
        if answer.refused:
            # Taken names were booked by an earlier attempt (or another client): find them.
            again = xero.find_contact_ids(tenant, list(answer.refused), recorder=record)
            found.update(again)
            refused = {name: why for name, why in answer.refused.items() if name not in again}
            if refused:
                posting.store.remember_contacts(found)
                raise ContactRefusedError(
                    f"{posting.entity.id}: the ledger refused the contact(s) "
                    + "; ".join(f"{name!r}: {why}" for name, why in sorted(refused.items()))
                )
    posting.store.remember_contacts(found)
    return {**known, **found}
