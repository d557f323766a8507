"""One line per failed step, read through Dagster's wrappers; alerts carry the runbook and the escalation."""

from dagster._utils.error import SerializableErrorInfo

from pipelines.failures import alert_text, explain

ENV = {
    "HARVEST_BASE_URL": "http://127.0.0.1:8711/v2",
    "XERO_BASE_URL": "http://127.0.0.1:8712/api.xro/2.0",
    "HARVEST_ACCOUNT_ID": "100001",
    "HARVEST_ACCESS_TOKEN": "t",
}


def _wrapped(cls_name: str, message: str) -> SerializableErrorInfo:
    """An error as Dagster records a step's: its wrapper, then the error the asset raised."""
    cause = SerializableErrorInfo(f"resources.http_retry.{cls_name}: {message}\n", [], cls_name)
    return SerializableErrorInfo(
        'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "x":\n',
        [],
        "DagsterExecutionStepExecutionError",
        cause,
    )


def test_a_refused_xero_token_names_the_variable_url_and_runbook() -> None:
    error = _wrapped(
        "PermanentHTTPError",
        'GET http://127.0.0.1:8712/api.xro/2.0/Organisation answered 401: {"Title":"Unauthorized",'
        '"Detail":"AuthenticationUnsuccessful"}',
    )
    line = explain("posting__posted_invoices", error, ENV)
    assert line.startswith(
        "Xero refused XERO_ACCESS_TOKEN at http://127.0.0.1:8712/api.xro/2.0/Organisation (401 AuthenticationUnsuccessful)"
    )
    assert line.endswith("[runbook: docs/runbooks/expired-credentials.md]") and "\n" not in line


def test_a_forbidden_tenant_points_at_the_tenant_id() -> None:
    error = _wrapped("PermanentHTTPError", "GET http://127.0.0.1:8712/api.xro/2.0/Invoices answered 403: {}")
    assert "accounting_tenant_id" in explain("posting__posted_invoices", error, ENV)


def test_retries_exhausted_on_503_is_a_provider_problem() -> None:
    error = _wrapped("TransientHTTPError", "GET http://127.0.0.1:8711/v2/time_entries answered 503")
    line = explain("raw__pm_extracts", error, ENV)
    assert line.startswith(
        "Harvest at http://127.0.0.1:8711/v2/time_entries still answered 503 after retries"
    )
    assert "429-storm.md" in line


def test_an_unknown_error_keeps_its_own_first_line() -> None:
    error = _wrapped("ValueError", "refusing to post us 2026-09: totals differ\nsecond line")
    assert explain("posting__posted_invoices", error, ENV) == (
        "posting__posted_invoices: ValueError: refusing to post us 2026-09: totals differ"
    )


def test_alerts_link_the_runbook_their_words_point_at_and_name_the_escalation() -> None:
    text = alert_text("answered 429", "https://git.example/billbridge/docs/runbooks/", "finance on-call")
    assert text == (
        "answered 429  [runbook: https://git.example/billbridge/docs/runbooks/429-storm.md]; escalate: finance on-call"
    )
    already = "x [runbook: docs/runbooks/dead-letters.md]"
    assert alert_text(already, "docs/runbooks/", "") == already
