"""The findings that decide whether an entity-month's job is done (rules/outcomes.py)."""

from decimal import Decimal

from rules.outcomes import DocumentState, QuarantineLimits, posting_findings, quarantine_finding, runbook_for

SCOPE = "us 2026-09"


def _docs(*states: tuple[str, str | None, str | None]) -> list[DocumentState]:
    return [DocumentState(number, status, error) for number, status, error in states]


def test_everything_confirmed_is_done() -> None:
    assert (
        posting_findings(SCOPE, _docs(("A", "confirmed", None), ("B", "discarded", "billed by hand"))) == []
    )


def test_circuit_open_with_documents_left_is_a_failure_naming_counts_and_reason() -> None:
    docs = _docs(
        ("A", "confirmed", None), ("B", "confirmed", None), ("C", "confirmed", None),
        ("D", "pending", None), ("E", "pending", None), ("F", "sent", "outcome unknown: ReadTimeout"),
    )  # fmt: skip
    [finding] = posting_findings(SCOPE, docs, stopped="circuit for t-1 is open after 5 failures")
    assert finding.failed
    assert "3 of 6 document(s) not in the ledger (2 not sent, 1 outcome unknown)" in finding.text
    assert "circuit for t-1 is open" in finding.text
    assert finding.runbook == "rate_limits"
    line = finding.line()
    assert line.startswith("us 2026-09: posting incomplete") and "\n" not in line
    assert line.endswith("[runbook: docs/runbooks/429-storm.md]")


def test_drafts_never_written_to_the_outbox_count_as_not_sent() -> None:
    [finding] = posting_findings(SCOPE, _docs(("A", None, None), ("B", None, None)))
    assert finding.failed and "2 of 2 document(s) not in the ledger (2 not sent)" in finding.text


def test_dead_letters_fail_and_point_at_the_dlq_commands() -> None:
    docs = _docs(("A", "confirmed", None), ("B", "dead_letter", "TaxType 'XX' is not valid\nmore detail"))
    [finding] = posting_findings(SCOPE, docs)
    assert finding.failed and finding.runbook == "dead_letters"
    assert "1 document(s) in the dead letters (B: TaxType 'XX' is not valid)" in finding.text
    assert "billbridge dlq list --entity us" in finding.text


def test_kill_switch_and_lock_date_are_attention_not_failure() -> None:
    docs = _docs(
        ("A", None, None), ("B", "pending", "held: dated 2026-09-30, on or before the lock date 2026-09-30")
    )
    findings = posting_findings(SCOPE, docs, disabled="skipped: kill switch BILLBRIDGE_POSTING_DISABLED=all")
    assert [f.failed for f in findings] == [False, False]
    assert findings[0].runbook == "lock_date" and "1 document(s) held" in findings[0].text
    assert "1 document(s) not sent: posting skipped: kill switch" in findings[1].text


def test_wrong_token_leaves_pending_rows_and_names_credentials() -> None:
    docs = _docs(("A", "pending", "GET http://x/Organisation answered 401: Unauthorized"))
    [finding] = posting_findings(SCOPE, docs)
    assert finding.failed and finding.runbook == "credentials"


def test_quarantine_share_above_the_limit_fails_with_reasons_by_count() -> None:
    limits = QuarantineLimits(Decimal("0.5"), 20)
    found = quarantine_finding(SCOPE, {"fx_rate_missing": 30, "unknown_project": 2}, 8, limits)
    assert found is not None and found.failed and found.runbook == "quarantine"
    assert found.text.startswith(
        "32 of 40 records quarantined (80.0% > 50%): fx_rate_missing 30, unknown_project 2"
    )


def test_quarantine_share_at_the_limit_or_below_the_minimum_count_passes() -> None:
    limits = QuarantineLimits(Decimal("0.5"), 20)
    assert quarantine_finding(SCOPE, {"unknown_project": 20}, 20, limits) is None  # 50% is not above 50%
    assert (
        quarantine_finding(SCOPE, {"hours_out_of_range": 2}, 0, limits) is None
    )  # 2 records: too few to judge
    assert quarantine_finding(SCOPE, {}, 0, limits) is None


def test_runbook_for_errors() -> None:
    assert runbook_for("GET https://api.xero.com/Organisation answered 401: Unauthorized") == "credentials"
    assert runbook_for("answered 429 Too Many Requests") == "rate_limits"
    assert runbook_for("ValueError: something else") == ""


def test_a_number_that_holds_a_status_code_names_no_runbook() -> None:
    # Found by a flaky run: the sandbox listened on port 40335, and "403" sent an open circuit to the
    # credentials runbook.
    open_circuit = "circuit for tenant t-3 is open after 5 consecutive failures (http://127.0.0.1:40335/api)"
    assert runbook_for(open_circuit) == "rate_limits"
    assert runbook_for("request 401233 failed") == ""
    assert runbook_for("answered 403: Forbidden") == "credentials"
