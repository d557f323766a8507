"""A batch answer (summarizeErrors=false) read as one answer per document (pure)."""

from __future__ import annotations

from typing import Any

from rules.documents import KINDS
from rules.outbox.events import Booked, Refused
from rules.outbox.ledger import element_errors, ledger_document, number_of


def batch_answers(
    kind: str, numbers: list[str], elements: list[dict[str, Any]]
) -> dict[str, Booked | Refused]:
    """Each sent document's answer: booked, with the ledger's document, or refused with its errors.

    Elements are matched by number, else by position (a refused element may come back without one).
    """
    _, number_field, id_field = KINDS[kind]
    by_number = {number_of(kind, str(e[number_field])): e for e in elements if e.get(number_field)}
    answers: dict[str, Booked | Refused] = {}
    for position, number in enumerate(numbers):
        element = by_number.get(number) or (elements[position] if position < len(elements) else {})
        errors = element_errors(element, id_field)
        answers[number] = (
            Refused(tuple(errors)) if errors is not None else Booked(ledger_document(kind, element))
        )
    return answers
