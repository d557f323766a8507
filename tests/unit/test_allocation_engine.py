"""Hand-computed allocations of one entity-month: pools, drivers, rule changes, Capex, profitability."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from rules.allocation.diff import allocation_diff, diff_markdown
from rules.allocation.engine import compute_allocation
from rules.allocation.journals import journal_documents_for_posting
from rules.allocation.rule_set import AllocationInputs, OverheadRow, RuleSetDocument, UsageRow

D = Decimal
AUG = date(2026, 8, 1)
NOV = date(2026, 11, 1)
INTERNAL = 6301


def line(
    n: int,
    project: int,
    hours: str,
    cost: str,
    *,
    day: str = "2026-08-10",
    person: int = 1,
    client: int = 5001,
    kind: str = "time",
    billable: bool = True,
) -> dict[str, Any]:
    """A normalized line with just the columns allocation reads."""
    return {
        "line_id": f"L{n:03d}",
        "source_kind": kind,
        "project_id": project,
        "project_name": f"Project {project}",
        "client_id": client,
        "person_id": person,
        "day": date.fromisoformat(day),
        "quantity": D(hours),
        "billable": billable,
        "amount_cost_base": D(cost),
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "line_id": pl.String,
            "source_kind": pl.String,
            "project_id": pl.Int64,
            "project_name": pl.String,
            "client_id": pl.Int64,
            "person_id": pl.Int64,
            "day": pl.Date,
            "quantity": pl.Decimal(18, 4),
            "billable": pl.Boolean,
            "amount_cost_base": pl.Decimal(18, 4),
        },
    )


NO_INVOICES = pl.DataFrame(
    schema={"project_id": pl.Int64, "line_amount": pl.Decimal(18, 4), "currency_rate": pl.Decimal(18, 8)}
)
HARDWARE = {
    "id": "hardware",
    "source": "overhead",
    "category": "hardware",
    "cost_class": "capex",
    "capex": {
        "capitalization_account": "710",
        "cost_account": "429",
        "depreciation_expense_account": "416",
        "accumulated_depreciation_account": "711",
        "life_months": 3,
    },
}


def inputs(
    rules: list[dict[str, Any]], overheads: list[OverheadRow] = (), usage: list[UsageRow] = (), **extra: Any
) -> AllocationInputs:  # type: ignore[assignment]
    document = RuleSetDocument.model_validate(
        {
            "version": "t1",
            "internal_projects": [INTERNAL],
            "cost_centres": [{"id": "cc_a", "projects": [6001, 6002]}],
            "pools": [
                {"id": "internal_time", "source": "internal_time"},
                {"id": "internal_expenses", "source": "nonbillable_expenses"},
                {"id": "rent", "source": "overhead", "category": "rent"},
                {"id": "software", "source": "overhead", "category": "software"},
                HARDWARE,
            ],
            "rules": rules,
            **extra,
        }
    )
    return AllocationInputs(document, "t1+test", "test.yaml", tuple(overheads), tuple(usage))


def rule(rule_id: str, pool: str, driver: str, targets: str = "projects", **extra: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "pool": pool,
        "driver": driver,
        "targets": targets,
        "effective_from": "2026-01-01",
        **extra,
    }


def overhead(ref: str, category: str, amount: str, day: str = "2026-08-01") -> OverheadRow:
    return OverheadRow(
        reference=ref, entity="us", date=date.fromisoformat(day), category=category, amount=D(amount)
    )


def slices_of(outcome: Any) -> dict[str, Decimal]:
    return dict(outcome.slices.select("target_id", "amount").iter_rows())


BASE_LINES = [
    line(1, INTERNAL, "10", "500.00"),  # the pool: 10 h of internal time at 50/h
    line(2, 6001, "2", "140.00", person=1),
    line(3, 6002, "1", "80.00", person=2),
]


def test_internal_time_by_hours_places_the_cent_by_largest_remainder() -> None:
    outcome = compute_allocation(
        frame(BASE_LINES), NO_INVOICES, inputs([rule("R1", "internal_time", "hours")]), "us", "USD", AUG
    )
    # 500 x 2/3 = 333.3333, 500 x 1/3 = 166.6667: floors 333.33 + 166.66, the cent to 6002 (.0067 > .0033).
    assert slices_of(outcome) == {"6001": D("333.33"), "6002": D("166.67")}
    assert outcome.slices.filter(pl.col("target_id") == "6002")["remainder_units"].to_list() == [1]
    assert all(ok for ok, _ in outcome.checks.values())


def test_rent_by_headcount_counts_people_per_project() -> None:
    lines = frame(
        [
            line(1, 6001, "1", "50", person=1),
            line(2, 6001, "1", "50", person=2),
            line(3, 6002, "1", "50", person=2),
            line(4, 6002, "1", "50", person=3),
            line(5, 6002, "1", "50", person=4),
        ]
    )
    outcome = compute_allocation(
        lines,
        NO_INVOICES,
        inputs([rule("R", "rent", "headcount")], [overhead("O1", "rent", "900.00")]),
        "us",
        "USD",
        AUG,
    )
    assert slices_of(outcome) == {"6001": D("360.00"), "6002": D("540.00")}  # 2 and 3 of 5 people


def test_headcount_per_client_counts_a_person_once() -> None:
    lines = frame(
        [
            line(1, 6001, "1", "50", person=1, client=5001),
            line(2, 6002, "1", "50", person=1, client=5001),
            line(3, 6003, "1", "50", person=2, client=5003),
        ]
    )
    outcome = compute_allocation(
        lines,
        NO_INVOICES,
        inputs([rule("R", "rent", "headcount", "clients")], [overhead("O1", "rent", "100.00")]),
        "us",
        "USD",
        AUG,
    )
    assert slices_of(outcome) == {"5001": D("50.00"), "5003": D("50.00")}


def test_usage_seats_to_cost_centres() -> None:
    usage = [
        UsageRow(entity="us", period="2026-08", metric="seats", project_id=p, quantity=D(q))
        for p, q in ((6001, "3"), (6002, "1"), (6003, "4"))
    ]
    r = rule("R", "software", "usage", "cost_centres", usage_metric="seats")
    outcome = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs([r], [overhead("O1", "software", "1000.00")], usage),
        "us",
        "USD",
        AUG,
    )
    # 6003 is in no cost centre: cc_a holds 6001 + 6002 = 4 seats, so it takes the whole pool.
    assert slices_of(outcome) == {"cc_a": D("1000.00")}


def test_listed_target_without_driver_gets_a_zero_slice() -> None:
    r = rule("R", "internal_time", "hours", target_ids=["6001", "6002", "6099"])
    outcome = compute_allocation(frame(BASE_LINES), NO_INVOICES, inputs([r]), "us", "USD", AUG)
    assert slices_of(outcome) == {"6001": D("333.33"), "6002": D("166.67"), "6099": D("0.00")}


def test_driver_zero_for_the_whole_pool_is_listed_not_spread() -> None:
    outcome = compute_allocation(
        frame([line(1, INTERNAL, "4", "200.00")]),
        NO_INVOICES,
        inputs([rule("R", "internal_time", "hours")]),
        "us",
        "USD",
        AUG,
    )
    assert outcome.slices.height == 0
    assert outcome.unallocated["amount"].to_list() == [D("200.00")]
    assert "zero for every projects target" in outcome.unallocated["reason"][0]
    assert outcome.profitability.height == 0
    assert outcome.checks["allocation_sums_to_pool"][0]


def test_rule_change_mid_month_splits_the_pool_by_date_and_window() -> None:
    lines = frame(
        [
            line(1, INTERNAL, "2", "100.00", day="2026-08-05"),
            line(2, INTERNAL, "4", "300.00", day="2026-08-20"),
            line(3, 6001, "3", "1", day="2026-08-04", person=1),
            line(4, 6002, "1", "1", day="2026-08-06", person=2),
            line(5, 6001, "1", "1", day="2026-08-18", person=1),
            line(6, 6002, "1", "1", day="2026-08-19", person=2),
            line(7, 6002, "1", "1", day="2026-08-25", person=3),
        ]
    )
    rules = [
        rule("OLD", "internal_time", "hours", effective_to="2026-08-15"),
        {**rule("NEW", "internal_time", "headcount"), "effective_from": "2026-08-16"},
    ]
    outcome = compute_allocation(lines, NO_INVOICES, inputs(rules), "us", "USD", AUG)
    got = {(p, t): a for p, t, a in outcome.slices.select("rule_id", "target_id", "amount").iter_rows()}
    # 1-15 Aug: 100.00 by hours 3:1 -> 75, 25. 16-31 Aug: 300.00 by headcount 1:2 -> 100, 200.
    assert got == {
        ("OLD", "6001"): D("75.00"),
        ("OLD", "6002"): D("25.00"),
        ("NEW", "6001"): D("100.00"),
        ("NEW", "6002"): D("200.00"),
    }


def test_cost_with_no_rule_in_force_is_listed() -> None:
    r = {**rule("R", "internal_time", "hours"), "effective_from": "2026-09-01"}
    outcome = compute_allocation(frame(BASE_LINES), NO_INVOICES, inputs([r]), "us", "USD", AUG)
    assert outcome.slices.height == 0
    assert outcome.unallocated.select("amount", "reason").row(0) == (
        D("500.00"),
        "no allocation rule in force on the cost's date",
    )


def test_overhead_category_without_pool_is_listed() -> None:
    outcome = compute_allocation(
        frame(BASE_LINES), NO_INVOICES, inputs([], [overhead("T1", "travel", "45.10")]), "us", "USD", AUG
    )
    listed = outcome.unallocated.filter(pl.col("pool_line_id") == "overhead:T1")
    assert listed["amount"].to_list() == [D("45.10")]


def test_nonbillable_expense_on_internal_project_is_pooled_but_on_client_project_is_direct() -> None:
    lines = frame(
        [
            *BASE_LINES,
            line(9, INTERNAL, "1", "90.00", kind="expense", billable=False),
            line(10, 6001, "1", "12.00", kind="expense", billable=False),
        ]
    )
    rules = [rule("R1", "internal_time", "hours"), rule("R2", "internal_expenses", "hours")]
    outcome = compute_allocation(lines, NO_INVOICES, inputs(rules), "us", "USD", AUG)
    pool = outcome.slices.filter(pl.col("pool_id") == "internal_expenses")
    assert dict(pool.select("target_id", "amount").iter_rows()) == {"6001": D("60.00"), "6002": D("30.00")}
    p6001 = outcome.profitability.filter(pl.col("project_id") == 6001).row(0, named=True)
    assert p6001["direct_expense_cost"] == D("12.00")
    assert set(outcome.sources["source_ref"]) == {"L001", "L009"}  # every pooled cost traceable to its line


def test_capex_depreciates_straight_line_across_the_year_end() -> None:
    outcome = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs(
            [rule("R1", "internal_time", "hours")], [overhead("HW1", "hardware", "1000.00", "2026-11-12")]
        ),
        "us",
        "USD",
        NOV,
    )
    schedule = outcome.schedule.select("depreciation_month", "amount", "remaining_book_value").rows()
    assert schedule == [
        (date(2026, 12, 1), D("333.34"), D("666.66")),
        (date(2027, 1, 1), D("333.33"), D("333.33")),
        (date(2027, 2, 1), D("333.33"), D("0.00")),
    ]
    journals = outcome.journals
    assert (
        journals.group_by("journal_ref").agg(pl.col("line_amount").sum())["line_amount"].to_list()
        == [D("0")] * 4
    )
    capex = (
        journals.filter(pl.col("journal_ref") == "CAPEX-us-hardware-2026-11")
        .select("journal_date", "account_code", "line_amount")
        .rows()
    )
    assert capex == [(date(2026, 11, 30), "710", D("1000.00")), (date(2026, 11, 30), "429", D("-1000.00"))]
    assert sorted(set(journals.filter(pl.col("journal_ref").str.starts_with("DEPR"))["journal_date"])) == [
        date(2026, 12, 31),
        date(2027, 1, 31),
        date(2027, 2, 28),
    ]
    assert "hardware" not in set(outcome.slices["pool_id"])  # capex is capitalized, not allocated


def test_negative_share_fails_unless_the_rule_allows_it() -> None:
    usage = [
        UsageRow(entity="us", period="2026-08", metric="seats", project_id=p, quantity=D(q))
        for p, q in ((6001, "3"), (6002, "-1"))
    ]
    forbidden = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs(
            [rule("R", "software", "usage", usage_metric="seats")],
            [overhead("O", "software", "100.00")],
            usage,
        ),
        "us",
        "USD",
        AUG,
    )
    # 100 x 3/2 = 150.00 and 100 x -1/2 = -50.00: the sum holds, the sign does not.
    assert slices_of(forbidden) == {"6001": D("150.00"), "6002": D("-50.00")}
    assert not forbidden.checks["no_forbidden_negative_share"][0]
    allowed = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs(
            [rule("R", "software", "usage", usage_metric="seats", allow_negative=True)],
            [overhead("O", "software", "100.00")],
            usage,
        ),
        "us",
        "USD",
        AUG,
    )
    assert allowed.checks["no_forbidden_negative_share"][0]


def test_profitability_adds_revenue_direct_and_allocated_cost() -> None:
    invoices = pl.DataFrame(
        {
            "project_id": [6001, 6001, 6002],
            "line_amount": [D("300.00"), D("100.00"), D("110.00")],
            "currency_rate": [D("1"), D("1"), D("1.1")],
        },
        schema={"project_id": pl.Int64, "line_amount": pl.Decimal(18, 4), "currency_rate": pl.Decimal(18, 8)},
    )
    outcome = compute_allocation(
        frame(BASE_LINES), invoices, inputs([rule("R1", "internal_time", "hours")]), "us", "USD", AUG
    )
    rows = {r["project_id"]: r for r in outcome.profitability.to_dicts()}
    assert (
        rows[6001]["revenue"],
        rows[6001]["direct_time_cost"],
        rows[6001]["allocated_cost"],
        rows[6001]["margin"],
    ) == (D("400.00"), D("140.00"), D("333.33"), D("-73.33"))
    # 110.00 / 1.1 = 100.00 base; 100 - 80 - 166.67 = -146.67
    assert (rows[6002]["revenue"], rows[6002]["margin"]) == (D("100.00"), D("-146.67"))
    assert INTERNAL not in rows


def test_same_inputs_give_the_same_bytes() -> None:
    a = compute_allocation(
        frame(BASE_LINES), NO_INVOICES, inputs([rule("R1", "internal_time", "hours")]), "us", "USD", AUG
    )
    b = compute_allocation(
        frame(list(reversed(BASE_LINES))),
        NO_INVOICES,
        inputs([rule("R1", "internal_time", "hours")]),
        "us",
        "USD",
        AUG,
    )
    assert a.result_hash == b.result_hash
    assert a.slices.write_csv() == b.slices.write_csv()


def test_diff_names_rule_driver_and_input_changes() -> None:
    before = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs([rule("R1", "internal_time", "hours")], [overhead("O", "rent", "100.00")]),
        "us",
        "USD",
        AUG,
    )
    # Rent gets a rule (new), internal time: person 3 adds an hour on 6002 (driver change).
    more = frame([*BASE_LINES, line(4, 6002, "1", "80.00", person=3)])
    after = compute_allocation(
        more,
        NO_INVOICES,
        inputs(
            [rule("R1", "internal_time", "hours"), rule("R2", "rent", "headcount")],
            [overhead("O", "rent", "100.00")],
        ),
        "us",
        "USD",
        AUG,
    )
    diff = {
        (r["target_id"]): (r["old_amount"], r["new_amount"], r["reason"])
        for r in allocation_diff(before.slices, after.slices).to_dicts()
    }
    # Internal time 500 by hours 2:2 -> 250 each; rent 100 by headcount 1:2 -> 33.33, 66.67.
    assert diff["6001"] == (D("333.33"), D("283.33"), "driver change, new")
    assert diff["6002"] == (D("166.67"), D("316.67"), "driver change, new")
    markdown = diff_markdown(allocation_diff(before.slices, after.slices), "USD")
    assert "| project 6001 | 333.33 | 283.33 | -50.00 | driver change, new |" in markdown.splitlines()
    changed_rule = compute_allocation(
        frame(BASE_LINES), NO_INVOICES, inputs([rule("R1", "internal_time", "headcount")]), "us", "USD", AUG
    )
    rule_diff = allocation_diff(before.slices, changed_rule.slices)
    assert set(rule_diff["reason"]) == {"driver change, rule change"}
    cheaper = compute_allocation(
        frame([line(1, INTERNAL, "10", "470.00"), *BASE_LINES[1:]]),
        NO_INVOICES,
        inputs([rule("R1", "internal_time", "hours")]),
        "us",
        "USD",
        AUG,
    )
    assert set(allocation_diff(before.slices, cheaper.slices)["reason"]) == {"input change"}


def test_any_input_the_result_reads_changes_the_inputs_hash() -> None:
    base = compute_allocation(
        frame(BASE_LINES), NO_INVOICES, inputs([rule("R1", "internal_time", "hours")]), "us", "USD", AUG
    )
    dearer = [BASE_LINES[0], {**BASE_LINES[1], "amount_cost_base": D("150.00")}, BASE_LINES[2]]
    changed = compute_allocation(
        frame(dearer), NO_INVOICES, inputs([rule("R1", "internal_time", "hours")]), "us", "USD", AUG
    )
    # A direct cost moves profitability only: a new inputs hash, so no false "not reproducible".
    assert changed.inputs_hash != base.inputs_hash and changed.result_hash != base.result_hash
    orphan = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs([rule("R1", "internal_time", "hours")], [overhead("T", "travel", "1.00")]),
        "us",
        "USD",
        AUG,
    )
    assert orphan.inputs_hash != base.inputs_hash


def test_journal_drafts_become_balanced_manual_journal_documents() -> None:
    outcome = compute_allocation(
        frame(BASE_LINES),
        NO_INVOICES,
        inputs([], [overhead("HW1", "hardware", "1000.00", "2026-11-12")]),
        "us",
        "USD",
        NOV,
    )
    drafts = outcome.journals.with_columns(
        pl.lit("run-1").alias("run_id"),
        pl.lit("us").alias("entity"),
        pl.lit("2026-11").alias("period"),
        pl.lit("t+1").alias("rule_set_version"),
    )
    nothing_posted = pl.DataFrame(
        schema={
            "document_number": pl.String, "entity": pl.String, "period": pl.String, "line_no": pl.Int32,
            "description": pl.String, "line_amount": pl.Decimal(18, 4), "account_code": pl.String,
            "tax_type": pl.String, "currency": pl.String, "document_date": pl.Date,
        }
    )  # fmt: skip
    headers, lines = journal_documents_for_posting(drafts, "run-1", nothing_posted)
    assert [d.isoformat() for d in headers["document_date"]] == [
        "2026-11-30",
        "2026-12-31",
        "2027-01-31",
        "2027-02-28",
    ]
    assert headers["total"].to_list() == [D("1000.00"), D("333.34"), D("333.33"), D("333.33")]
    first = lines.filter(pl.col("document_number") == headers["document_number"][0])
    assert first.select("line_amount", "account_code", "description").rows() == [
        (D("1000.00"), "710", "hardware 2026-11 capitalized"),
        (D("-1000.00"), "429", "hardware 2026-11 capitalized"),
    ]
    assert (
        lines.group_by("document_number").agg(pl.col("line_amount").sum())["line_amount"].to_list()
        == [D("0")] * 4
    )
    assert set(headers["document_kind"]) == {"manual_journal"}
