"""Duplicate-party suggestions: alike names across PM clients and contacts, never what the mapping joins."""

import polars as pl

from rules.reconciliation.duplicates import PARTY_SCHEMA, duplicate_suggestions

PARTIES = pl.DataFrame(
    [
        ("pm", "5001", "Acme Corp", "us"),
        ("pm", "5002", "ACME Corporation", "us"),  # the mapping sends both to "Acme Corp": already one party
        ("accounting", "c1", "Acme Corp", "us"),
        ("pm", "5003", "Globex LLC", "us"),
        ("accounting", "c2", "Globex", "us"),  # mapped elsewhere: suggested
        ("accounting", "c3", "Initech Limited", "us"),
        ("accounting", "c4", "INITECH LTD", "us"),  # two contacts for one company
        ("pm", "5101", "Globex LLC", "uk"),  # another entity: never paired across entities
    ],
    schema=PARTY_SCHEMA,
    orient="row",
)
CONTACT_OF = {"5001": "Acme Corp", "5002": "Acme Corp", "5003": "Globex Corporation"}


def test_alike_names_are_suggested_unless_the_mapping_joins_them() -> None:
    found = {(s.a_id, s.b_id) for s in duplicate_suggestions(PARTIES, CONTACT_OF)}
    assert found == {("c2", "5003"), ("c3", "c4")}


def test_accepting_writes_a_mapping_alias() -> None:
    suggestion = next(s for s in duplicate_suggestions(PARTIES, CONTACT_OF) if s.b_id == "5003")
    assert suggestion.alias_entry() == {"pm_client_id": 5003, "entity": "us", "contact_name": "Globex"}
    contacts = next(s for s in duplicate_suggestions(PARTIES, CONTACT_OF) if s.a_id == "c3")
    assert contacts.alias_entry() is None  # two ledger contacts: merged in the ledger, not the mapping
