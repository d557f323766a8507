"""Circuit breaker, tenant throttle, backoff, redaction and the kill switch, driven directly."""

from __future__ import annotations

import pytest

from resources.circuit_breaker import CircuitBreaker, CircuitOpenError, tenant_breaker
from resources.configuration import current_config
from resources.http_retry import full_jitter_delay
from resources.outbox.request_log import REDACTED, redact, redact_text
from resources.rate_limit import DailyLimitReached, TenantThrottle
from rules.kill_switch import posting_disabled_reason
from rules.settings import PostingSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_half_opens_with_one_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", failure_threshold=3, reset_after_s=10, clock=clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now = 10.0
    breaker.before_call()  # the single probe
    with pytest.raises(CircuitOpenError, match="probe"):
        breaker.before_call()
    breaker.record_failure()  # the probe failed: open again for a full period
    assert breaker.state == "open"
    clock.now = 20.0
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_one_tenants_open_circuit_leaves_the_others_closed() -> None:
    sick, healthy = tenant_breaker("sick-tenant", 1, 60.0), tenant_breaker("healthy-tenant", 1, 60.0)
    sick.before_call()
    sick.record_failure()
    with pytest.raises(CircuitOpenError):
        sick.before_call()
    healthy.before_call()
    assert healthy.state == "closed"


def test_throttle_stops_for_the_day_when_the_provider_says_so() -> None:
    throttle = TenantThrottle(60, 5, 5000, clock=Clock(), sleep=lambda s: None)
    throttle.before_call()
    throttle.after_call({"X-DayLimit-Remaining": "0", "X-MinLimit-Remaining": "59"})
    with pytest.raises(DailyLimitReached):
        throttle.before_call()


def test_throttle_stops_at_its_own_daily_allowance() -> None:
    throttle = TenantThrottle(60, 5, 2, clock=Clock(), sleep=lambda s: None)
    for _ in range(2):
        throttle.before_call()
        throttle.after_call(None)
    with pytest.raises(DailyLimitReached):
        throttle.before_call()


def test_throttle_slows_down_when_another_client_shares_the_quota() -> None:
    slept: list[float] = []
    throttle = TenantThrottle(60, 5, 5000, clock=Clock(), sleep=slept.append)
    throttle.before_call()
    throttle.after_call({"X-MinLimit-Remaining": "58"})  # as we expect: no pause
    throttle.before_call()
    assert slept == []
    throttle.after_call({"X-MinLimit-Remaining": "3"})  # somebody else used most of the minute
    throttle.before_call()
    assert slept == [15.0]  # the 4 calls' worth left spread over the window: 60 / (3 + 1)


def test_full_jitter_stays_within_the_cap_and_honours_retry_after() -> None:
    assert full_jitter_delay(3, base_s=0.5, retry_after=7.0) == 7.0
    assert full_jitter_delay(3, base_s=0.5, rng=lambda low, high: high) == 4.0
    assert full_jitter_delay(20, base_s=0.5, cap_s=30.0, rng=lambda low, high: high) == 30.0
    assert full_jitter_delay(2, rng=lambda low, high: low) == 0.0


def test_redaction_removes_secrets_from_headers_and_bodies() -> None:
    assert redact({"Authorization": "Bearer abc", "Idempotency-Key": "k"}) == {
        "Authorization": REDACTED,
        "Idempotency-Key": "k",
    }
    assert "abc" not in redact_text('{"access_token": "abc", "Invoices": [{"client_secret": "abc"}]}')
    assert redact_text("token=abc") == REDACTED


def test_kill_switch_from_environment_and_configuration() -> None:
    us = current_config().entity("us")
    assert posting_disabled_reason(us, {}) is None
    assert "all" in str(posting_disabled_reason(us, {"BILLBRIDGE_POSTING_DISABLED": "all"}))
    assert "us" in str(posting_disabled_reason(us, {"BILLBRIDGE_POSTING_DISABLED": "uk, us"}))
    assert posting_disabled_reason(us, {"BILLBRIDGE_POSTING_DISABLED": "uk"}) is None
    off = us.model_copy(update={"posting": PostingSettings(enabled=False)})
    assert "configuration" in str(posting_disabled_reason(off, {}))
