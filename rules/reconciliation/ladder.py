"""The matching ladder: one decision per bank line, in booking order, against what is still due.

Candidates come from rules/reconciliation/candidates.py (reference, party, amount rungs); here
each candidate, one item or several (a payment covering several invoices: every number quoted,
or a combination of the payer's open items within the bounded search), is settled against what
is *still* due after the lines booked before it (so a second partial payment meets the rest of
its invoice, and a duplicate meets an invoice already paid), scored, and the best one decides:

- `auto_accepted`: confidence at or above `auto_accept` and no anomaly;
- `proposed`: at or above `propose`, or above auto-accept with an anomaly a person must see;
- `exception`: below `propose`, no candidate, or a payment to a closed, paid or credited invoice.

Only auto-accepted lines consume what is due; a proposal reserves nothing (a person accepting
it later meets the workbench's staleness check). Anomalies: duplicate_payment, overpayment,
closed_invoice, credited_invoice, unknown_payer, ambiguous (two candidates equally good).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from itertools import combinations

import polars as pl

from rules.reconciliation.bulk import BulkDecisions, decide_in_bulk
from rules.reconciliation.candidates import CandidatePool, Slack, find_candidates
from rules.reconciliation.decision_rows import Candidate, Decision, decision_frame
from rules.reconciliation.differences import (
    ZERO,
    Settlement,
    allocate_oldest_first,
    settle_other_currency,
    settle_same_currency,
)
from rules.reconciliation.frames import AUTO, EXCEPTION, PROPOSED
from rules.reconciliation.rows import Item, Line, among, item_rows, line_rows
from rules.reconciliation.rule_file import CurrencyRule, ReconciliationRules
from rules.reconciliation.scoring import (
    Components,
    amount_score,
    float_weights,
    payment_window,
    weighted_confidence,
    window_score,
)

BLOCKING = ("duplicate_payment", "closed_invoice", "credited_invoice")  # always an exception
RUNG_ORDER = {"reference": 0, "references": 1, "party": 2, "combination": 3, "amount": 4}
_NONE: dict[str, float] = {}


def _flip(settlement: Settlement, sign: int) -> Settlement:
    """The settlement with every amount's sign multiplied by `sign` (refunds are settled as payments)."""
    if sign == 1:
        return settlement
    changes = {f.name: -getattr(settlement, f.name) for f in fields(settlement) if f.name != "reason"}
    return replace(settlement, **changes)


class Ladder:
    """Decides one entity's bank lines against its items; holds the running amounts still due."""

    def __init__(self, lines: pl.DataFrame, items: pl.DataFrame, rules: ReconciliationRules, entity: str):
        self.rules, self.entity = rules, entity
        self.matching = rules.document.matching
        self.lines = lines.sort("booking_date", "line_id")
        self.pool: CandidatePool = find_candidates(self.lines, items, self.matching, self._slack())
        # Only an item some line found as a candidate is ever settled, scored or shown.
        found = items.filter(among("item_id", self.pool.item_ids()))
        self.items: dict[str, Item] = item_rows(found)
        self.still_due: dict[str, Decimal] = {i: item.amount_due for i, item in self.items.items()}
        self.due_order = {i: (item.due_date, i) for i, item in self.items.items()}
        self.paid_here: dict[str, list[Decimal]] = defaultdict(list)
        self.weights = float_weights(rules.document.weights)
        self.currency_rules: dict[str, CurrencyRule] = {}
        self.windows: dict[str, tuple[date, date]] = {}
        thresholds = rules.document.thresholds
        self.auto_accept, self.propose = float(thresholds.auto_accept), float(thresholds.propose)

    def _rule(self, bank_currency: str) -> CurrencyRule:
        """The entity's rule for `bank_currency`, looked up once per currency."""
        if bank_currency not in self.currency_rules:
            self.currency_rules[bank_currency] = self.rules.currency(self.entity, bank_currency)
        return self.currency_rules[bank_currency]

    def _slack(self) -> Slack:
        """The widest tolerance any of the entity's currency rules allows (the pre-filter's bound)."""
        entity = self.rules.entity(self.entity)
        rules = [entity.default, *entity.currencies.values()]
        fraction = max(max(r.amount_tolerance_percent, r.fx_tolerance_percent) for r in rules) / 100
        absolute = max(
            r.amount_tolerance_absolute + r.write_off_absolute + max(r.fee_amounts, default=Decimal(0))
            for r in rules
        )
        return Slack(fraction, absolute)

    # ------------------------------------------------------------------ settling and scoring
    def _settle(self, line: Line, item_ids: tuple[str, ...]) -> Settlement | None:
        bank_currency = line.currency
        if len(item_ids) == 1:
            item = self.items[item_ids[0]]
            due, same = ZERO + self.still_due[item_ids[0]], item.currency == bank_currency
        else:
            due = sum((self.still_due[i] for i in item_ids), ZERO)
            same = all(self.items[i].currency == bank_currency for i in item_ids)
        received = line.amount
        sign = -1 if due < 0 or (due == 0 and received < 0) else 1
        rule = self._rule(bank_currency)
        if same:
            return _flip(
                settle_same_currency(received * sign, due * sign, line.charges, rule, bank_currency), sign
            )
        if len(item_ids) != 1:
            return None  # several items in another currency: left to a person
        if item.currency_rate is None:
            raise TypeError(f"item {item_ids[0]} in {item.currency} has no currency_rate")
        settled = settle_other_currency(
            received * sign, due * sign, item.currency, item.currency_rate, bank_currency, rule
        )
        return _flip(settled, sign)

    def _candidate(self, line: Line, item_ids: tuple[str, ...], rung: str) -> Candidate | None:
        settlement = self._settle(line, item_ids)
        if settlement is None:
            return None
        cross = any(self.items[i].currency != line.currency for i in item_ids)
        rule = self._rule(line.currency)
        references = self.pool.reference.get(line.line_id, _NONE)
        components = Components(
            reference=min(references.get(i, 0.0) for i in item_ids),
            amount=amount_score(settlement, rule, self.matching, line.currency, cross),
            party=min(self.pool.party_score(line.line_id, i) for i in item_ids),
            date=min(self._date_score(line, i) for i in item_ids),
        )
        c = components
        confidence = weighted_confidence(self.weights, c.reference, c.amount, c.party, c.date)
        return Candidate(item_ids, rung, components, confidence, settlement)

    def _date_score(self, line: Line, item_id: str) -> float:
        """scoring.date_score, with each item's payment window worked out once."""
        window = self.windows.get(item_id)
        if window is None:
            item = self.items[item_id]
            window = self.windows[item_id] = payment_window(item.issue_date, item.due_date, self.matching)
        return window_score(line.booking_date, window)

    # ------------------------------------------------------------------ the rungs
    def _item_sets(self, line: Line) -> list[tuple[tuple[str, ...], str]]:
        line_id, still_due = line.line_id, self.still_due
        referenced = sorted(self.pool.reference.get(line_id, _NONE), key=self.due_order.__getitem__)
        sets: list[tuple[tuple[str, ...], str]] = [((i,), "reference") for i in referenced]
        # A payer's invoice already settled is no candidate unless the payment quotes it (then it is an anomaly).
        party = [i for i in self.pool.party.get(line_id, _NONE) if i not in referenced and still_due[i] != 0]
        sets += [((i,), "party") for i in party]
        open_referenced = tuple(i for i in referenced if still_due[i] != 0)
        if len(open_referenced) >= 2:
            sets.append((open_referenced, "references"))
        if not sets:
            sets += [(c, "combination") for c in self._combinations(line)]
            sets += [((i,), "amount") for i in self.pool.amount_only.get(line_id, [])]
        return sets

    def _combinations(self, line: Line) -> list[tuple[str, ...]]:
        """Sets of 2..max_combination_items of the payer's open items summing exactly to the line
        (at most two are kept: a second one only makes the first ambiguous)."""
        pool = [i for i in self.pool.combination_pool.get(line.line_id, _NONE) if self.still_due[i] != 0]
        target = line.amount
        dues = [self.still_due[i] for i in pool]
        found: list[tuple[str, ...]] = []
        for size in range(2, min(self.matching.max_combination_items, len(pool)) + 1):
            # The amounts and the ids are combined in the same order, so each sum names its subset.
            for amounts, subset in zip(combinations(dues, size), combinations(pool, size), strict=True):
                if sum(amounts, ZERO) == target:
                    found.append(subset)
                    if len(found) == 2:
                        return found
        return found

    # ------------------------------------------------------------------ deciding
    def _anomalies(self, line: Line, ranked: list[Candidate]) -> tuple[str, ...]:
        found: list[str] = []
        amount = line.amount
        if amount > 0 and line.counterparty_name and line.line_id not in self.pool.known_payers:
            found.append("unknown_payer")
        if not ranked:
            return tuple(found)
        best = ranked[0]
        for item_id in best.item_ids:
            if self.still_due[item_id] != 0:
                continue
            item = self.items[item_id]
            if amount in self.paid_here[item_id] or (item.status == "PAID" and item.total == amount):
                found.append("duplicate_payment")
            elif (item.credited or 0) != 0:
                found.append("credited_invoice")
            else:
                found.append("closed_invoice")
        if best.settlement.unapplied != 0 and not set(found) & set(BLOCKING):
            found.append("overpayment")
        propose = self.propose
        margin = float(self.matching.ambiguity_margin)
        if (
            len(ranked) > 1
            and ranked[1].confidence >= propose
            and best.confidence - ranked[1].confidence <= margin
        ):
            found.append("ambiguous")
        return tuple(dict.fromkeys(found))

    def _status(self, best: Candidate | None, anomalies: tuple[str, ...]) -> str:
        if best is None or set(anomalies) & set(BLOCKING):
            return EXCEPTION
        if best.confidence >= self.auto_accept and not anomalies:
            return AUTO
        return PROPOSED if best.confidence >= self.propose else EXCEPTION

    def _consume(self, candidate: Candidate) -> None:
        """Take what an auto-accepted line settles off its items, oldest due first."""
        ordered = sorted(candidate.item_ids, key=self.due_order.__getitem__)
        dues = [(i, self.still_due[i]) for i in ordered]
        for item_id, take in allocate_oldest_first(candidate.settlement.settled_in_item_currency, dues):
            self._take(item_id, take)

    def _take(self, item_id: str, amount: Decimal) -> None:
        self.still_due[item_id] -= amount
        self.paid_here[item_id].append(amount)

    def decide(self, line: Line) -> Decision:
        """Score every candidate of `line`, pick the best, flag anomalies, consume when auto-accepted."""
        built = [self._candidate(line, ids, rung) for ids, rung in self._item_sets(line)]
        ranked = sorted(
            (c for c in built if c is not None),
            key=lambda c: (-c.confidence, RUNG_ORDER[c.rung], [self.due_order[i] for i in c.item_ids]),
        )
        best = ranked[0] if ranked else None
        anomalies = self._anomalies(line, ranked)
        status = self._status(best, anomalies)
        if status == AUTO and best is not None:
            self._consume(best)
        return Decision(line.line_id, status, best, tuple(ranked[1:4]), anomalies)

    def run(self, decided: BulkDecisions | None = None) -> list[Decision]:
        """Decide every line, in booking order; a line `decided` in bulk is not decided again, but what
        it consumes is taken at its place in the order (rules/reconciliation/bulk.py)."""
        if decided is None:
            return [self.decide(line) for line in line_rows(self.lines)]
        done, consumed = decided.line_ids, decided.consumed
        rest = iter(line_rows(self.lines.filter(~among("line_id", done))))
        out = []
        for line_id in self.lines["line_id"].to_list():
            if line_id not in done:
                out.append(self.decide(next(rest)))
            elif line_id in consumed:
                self._take(*consumed[line_id])
        return out


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while the ladder builds its hundreds of thousands of
    small, acyclic objects (candidate dicts, tuples, decisions): each full collection walks all of them,
    about a fifth of the matching time on the bench. Memory is still freed by reference counting; the
    collector is switched back on as it was found, and collects any cycle then."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def match_lines(
    lines: pl.DataFrame, items: pl.DataFrame, rules: ReconciliationRules, entity: str, *, in_bulk: bool = True
) -> pl.DataFrame:
    """One decision row per bank line (DECISION_SCHEMA) for one entity's lines against its items, in
    booking order. `in_bulk` decides the order-free lines at once (rules/reconciliation/bulk.py): the
    same decisions as deciding every line one by one (`in_bulk=False`), faster."""
    with cyclic_gc_paused():
        ladder = Ladder(lines, items, rules, entity)
        bulk = decide_in_bulk(ladder.lines, items, ladder.pool, rules, entity) if in_bulk else None
        sequential = decision_frame(ladder.run(bulk), ladder.items, entity)
    if bulk is None or bulk.rows.is_empty():
        return sequential
    return ladder.lines.select("line_id").join(
        pl.concat([sequential, bulk.rows]), on="line_id", how="left", maintain_order="left"
    )
