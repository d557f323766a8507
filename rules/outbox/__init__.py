"""The outbox as a state machine: typed rows, the answers the ledger gives, and pure transitions.

A document's outbox row moves through five states (rows.Status):

    pending ──Sending──▶ sent ──Booked──▶ confirmed
       ▲                  │ ├──Refused──▶ dead_letter ──Discarded──▶ discarded
       └──Transient/Absent┘ └──Unknown───▶ sent (in doubt: only a look-up can settle it)

`transition(row, event)` is the only way a row changes state; it does no I/O. Storage
(resources/outbox/), sending (resources/outbox/sender.py) and the protocol that strings them
together (assets/posting/outbox.py) sit above this floor.
"""
