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

import json
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Any

import polars as pl

from rules.money import MONEY
from rules.reconciliation.bulk import BulkDecisions, decide_in_bulk
from rules.reconciliation.candidates import CandidatePool, Slack, find_candidates
from rules.reconciliation.differences import (
    Settlement,
    allocate_oldest_first,
    settle_other_currency,
    settle_same_currency,
)
from rules.reconciliation.frames import AUTO, DECISION_SCHEMA, EXCEPTION, PROPOSED
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


@dataclass(frozen=True)
class Candidate:
    """Items a line may pay, how it would settle them, and the score."""

    item_ids: tuple[str, ...]
    rung: str
    components: Components
    confidence: float
    settlement: Settlement


@dataclass(frozen=True)
class Decision:
    """The ladder's verdict on one bank line."""

    line_id: str
    status: str
    best: Candidate | None
    alternatives: tuple[Candidate, ...]
    anomalies: tuple[str, ...]


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
        found = items.filter(pl.col("item_id").is_in(self.pool.item_ids()))
        self.items = {row["item_id"]: row for row in found.iter_rows(named=True)}
        self.still_due: dict[str, Decimal] = {i: Decimal(r["amount_due"]) for i, r in self.items.items()}
        self.paid_here: dict[str, list[Decimal]] = defaultdict(list)
        self.weights = float_weights(rules.document.weights)
        self.currency_rules: dict[str, CurrencyRule] = {}
        self.windows: dict[str, tuple[date, date]] = {}

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
    def _settle(self, line: dict[str, Any], item_ids: tuple[str, ...]) -> Settlement | None:
        currencies = {self.items[i]["currency"] for i in item_ids}
        due = sum((self.still_due[i] for i in item_ids), Decimal(0))
        received, bank_currency = Decimal(line["amount"]), line["currency"]
        sign = -1 if due < 0 or (due == 0 and received < 0) else 1
        rule = self._rule(bank_currency)
        if currencies == {bank_currency}:
            charges = None if line["charges"] is None else Decimal(line["charges"])
            return _flip(
                settle_same_currency(received * sign, due * sign, charges, rule, bank_currency), sign
            )
        if len(item_ids) != 1:
            return None  # several items in another currency: left to a person
        item = self.items[item_ids[0]]
        settled = settle_other_currency(
            received * sign, due * sign, item["currency"], Decimal(item["currency_rate"]), bank_currency, rule
        )
        return _flip(settled, sign)

    def _candidate(self, line: dict[str, Any], item_ids: tuple[str, ...], rung: str) -> Candidate | None:
        settlement = self._settle(line, item_ids)
        if settlement is None:
            return None
        cross = any(self.items[i]["currency"] != line["currency"] for i in item_ids)
        rule = self._rule(line["currency"])
        line_id = line["line_id"]
        components = Components(
            reference=min(self.pool.reference.get(line_id, {}).get(i, 0.0) for i in item_ids),
            amount=amount_score(settlement, rule, self.matching, line["currency"], cross),
            party=min(self.pool.party_score(line_id, i) for i in item_ids),
            date=min(self._date_score(line, i) for i in item_ids),
        )
        c = components
        confidence = weighted_confidence(self.weights, c.reference, c.amount, c.party, c.date)
        return Candidate(item_ids, rung, components, confidence, settlement)

    def _date_score(self, line: dict[str, Any], item_id: str) -> float:
        """scoring.date_score, with each item's payment window worked out once."""
        window = self.windows.get(item_id)
        if window is None:
            item = self.items[item_id]
            window = self.windows[item_id] = payment_window(
                item["issue_date"], item["due_date"], self.matching
            )
        return window_score(line["booking_date"], window)

    # ------------------------------------------------------------------ the rungs
    def _item_sets(self, line: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
        line_id = line["line_id"]
        referenced = sorted(self.pool.reference.get(line_id, {}), key=self._due_order)
        sets: list[tuple[tuple[str, ...], str]] = [((i,), "reference") for i in referenced]
        # A payer's invoice already settled is no candidate unless the payment quotes it (then it is an anomaly).
        party = [
            i for i in self.pool.party.get(line_id, {}) if i not in referenced and self.still_due[i] != 0
        ]
        sets += [((i,), "party") for i in party]
        open_referenced = tuple(i for i in referenced if self.still_due[i] != 0)
        if len(open_referenced) >= 2:
            sets.append((open_referenced, "references"))
        if not sets:
            sets += [(c, "combination") for c in self._combinations(line)]
            sets += [((i,), "amount") for i in self.pool.amount_only.get(line_id, [])]
        return sets

    def _due_order(self, item_id: str) -> tuple[Any, str]:
        return (self.items[item_id]["due_date"], item_id)

    def _combinations(self, line: dict[str, Any]) -> list[tuple[str, ...]]:
        """Sets of 2..max_combination_items of the payer's open items summing exactly to the line
        (at most two are kept: a second one only makes the first ambiguous)."""
        pool = [i for i in self.pool.combination_pool.get(line["line_id"], {}) if self.still_due[i] != 0]
        target = Decimal(line["amount"])
        dues = [self.still_due[i] for i in pool]
        found: list[tuple[str, ...]] = []
        for size in range(2, min(self.matching.max_combination_items, len(pool)) + 1):
            # The amounts and the ids are combined in the same order, so each sum names its subset.
            for amounts, subset in zip(combinations(dues, size), combinations(pool, size), strict=True):
                if sum(amounts, Decimal(0)) == target:
                    found.append(subset)
                    if len(found) == 2:
                        return found
        return found

    # ------------------------------------------------------------------ deciding
    def _anomalies(self, line: dict[str, Any], ranked: list[Candidate]) -> tuple[str, ...]:
        found: list[str] = []
        if (
            Decimal(line["amount"]) > 0
            and line["counterparty_name"]
            and line["line_id"] not in self.pool.known_payers
        ):
            found.append("unknown_payer")
        if not ranked:
            return tuple(found)
        best, amount = ranked[0], Decimal(line["amount"])
        for item_id in best.item_ids:
            if self.still_due[item_id] != 0:
                continue
            item = self.items[item_id]
            if amount in self.paid_here[item_id] or (
                item["status"] == "PAID" and Decimal(item["total"]) == amount
            ):
                found.append("duplicate_payment")
            elif Decimal(item["credited"] or 0) != 0:
                found.append("credited_invoice")
            else:
                found.append("closed_invoice")
        if best.settlement.unapplied != 0 and not set(found) & set(BLOCKING):
            found.append("overpayment")
        propose = float(self.rules.document.thresholds.propose)
        margin = float(self.matching.ambiguity_margin)
        if (
            len(ranked) > 1
            and ranked[1].confidence >= propose
            and best.confidence - ranked[1].confidence <= margin
        ):
            found.append("ambiguous")
        return tuple(dict.fromkeys(found))

    def _status(self, best: Candidate | None, anomalies: tuple[str, ...]) -> str:
        thresholds = self.rules.document.thresholds
        if best is None or set(anomalies) & set(BLOCKING):
            return EXCEPTION
        if best.confidence >= float(thresholds.auto_accept) and not anomalies:
            return AUTO
        return PROPOSED if best.confidence >= float(thresholds.propose) else EXCEPTION

    def _consume(self, candidate: Candidate) -> None:
        """Take what an auto-accepted line settles off its items, oldest due first."""
        ordered = sorted(candidate.item_ids, key=self._due_order)
        dues = [(i, self.still_due[i]) for i in ordered]
        for item_id, take in allocate_oldest_first(candidate.settlement.settled_in_item_currency, dues):
            self._take(item_id, take)

    def _take(self, item_id: str, amount: Decimal) -> None:
        self.still_due[item_id] -= amount
        self.paid_here[item_id].append(amount)

    def decide(self, line: dict[str, Any]) -> Decision:
        """Score every candidate of `line`, pick the best, flag anomalies, consume when auto-accepted."""
        built = [self._candidate(line, ids, rung) for ids, rung in self._item_sets(line)]
        ranked = sorted(
            (c for c in built if c is not None),
            key=lambda c: (-c.confidence, RUNG_ORDER[c.rung], [self._due_order(i) for i in c.item_ids]),
        )
        best = ranked[0] if ranked else None
        anomalies = self._anomalies(line, ranked)
        status = self._status(best, anomalies)
        if status == AUTO and best is not None:
            self._consume(best)
        return Decision(line["line_id"], status, best, tuple(ranked[1:4]), anomalies)

    def run(self, decided: BulkDecisions | None = None) -> list[Decision]:
        """Decide every line, in booking order; a line `decided` in bulk is not decided again, but what
        it consumes is taken at its place in the order (rules/reconciliation/bulk.py)."""
        if decided is None:
            return [self.decide(line) for line in self.lines.iter_rows(named=True)]
        done, consumed = decided.line_ids, decided.consumed
        rest = self.lines.filter(~pl.col("line_id").is_in(list(done))).iter_rows(named=True)
        out = []
        for line_id in self.lines["line_id"]:
            if line_id not in done:
                out.append(self.decide(next(rest)))
            elif line_id in consumed:
                self._take(*consumed[line_id])
        return out


def match_lines(
    lines: pl.DataFrame, items: pl.DataFrame, rules: ReconciliationRules, entity: str, *, in_bulk: bool = True
) -> pl.DataFrame:
    """One decision row per bank line (DECISION_SCHEMA) for one entity's lines against its items, in
    booking order. `in_bulk` decides the order-free lines at once (rules/reconciliation/bulk.py): the
    same decisions as deciding every line one by one (`in_bulk=False`), faster."""
    ladder = Ladder(lines, items, rules, entity)
    bulk = decide_in_bulk(ladder.lines, items, ladder.pool, rules, entity) if in_bulk else None
    sequential = _decision_frame([_decision_row(d, ladder, entity) for d in ladder.run(bulk)])
    if bulk is None or bulk.rows.is_empty():
        return sequential
    return ladder.lines.select("line_id").join(
        pl.concat([sequential, bulk.rows]), on="line_id", how="left", maintain_order="left"
    )


def _decision_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """DECISION_SCHEMA rows as a frame."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(DECISION_SCHEMA)
    # Money and lists travel as text and are converted once, column by column: exact, and far faster
    # than building Decimal and list cells row by row.
    data: dict[str, list[Any]] = {}
    as_text: dict[str, pl.DataType] = {}
    for (name, dtype), values in zip(DECISION_SCHEMA.items(), columns, strict=True):
        if dtype == MONEY:
            data[name], as_text[name] = [None if v is None else str(v) for v in values], pl.String()
        elif isinstance(dtype, pl.List):
            data[name], as_text[name] = [_SEPARATOR.join(v) if v else None for v in values], pl.String()
        else:
            data[name], as_text[name] = list(values), dtype
    lists = [n for n, d in DECISION_SCHEMA.items() if isinstance(d, pl.List)]
    return (
        pl.DataFrame(data, schema=as_text)
        .with_columns(
            pl.col(n).str.split(_SEPARATOR).fill_null(pl.lit([], dtype=pl.List(pl.String()))) for n in lists
        )
        .cast(DECISION_SCHEMA)
    )


_SEPARATOR = "\x1f"  # the ASCII unit separator: in no number, id or anomaly name


def _summary(candidate: Candidate, ladder: Ladder) -> dict[str, Any]:
    return {
        "item_ids": list(candidate.item_ids),
        "numbers": [ladder.items[i]["number"] for i in candidate.item_ids],
        "rung": candidate.rung,
        "confidence": candidate.confidence,
        "components": candidate.components.as_dict(),
        "settlement": candidate.settlement.reason,
    }


def _decision_row(decision: Decision, ladder: Ladder, entity: str) -> tuple[Any, ...]:
    best = decision.best
    alternatives = json.dumps([_summary(c, ladder) for c in decision.alternatives])
    if best is None:
        return (decision.line_id, entity, decision.status, [], [], None, 0.0, 0.0, 0.0, 0.0, 0.0,
                list(decision.anomalies), "no candidate", alternatives,
                *([None] * 8), None)  # fmt: skip
    s, c = best.settlement, best.components
    return (
        decision.line_id, entity, decision.status, list(best.item_ids),
        [ladder.items[i]["number"] for i in best.item_ids], best.rung, best.confidence,
        c.reference, c.amount, c.party, c.date, list(decision.anomalies),
        f"{best.rung}: {s.reason}", alternatives,
        s.received, s.expected, s.fee, s.write_off, s.fx_difference, s.unapplied, s.still_due,
        s.settled_in_item_currency, s.reason,
    )  # fmt: skip
