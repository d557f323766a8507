"""A candidate rounding rule in shadow (decision 0039): the diff is exactly the hand-computed one, the
shadow never reaches a real draft or the outbox, and promote then revert are two recorded
configuration changes that leave the original mapping document byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from pipelines.cli import main
from resources.audit_log import AuditLog
from resources.configuration import current_config, load_config
from resources.warehouse import Warehouse, append
from rules.normalizing import normalize_lines
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
CANDIDATE = """
shadow:
  - entity: us
    version: half-even-2026-09
    enabled: true
    serving: current   # billbridge shadow promote / revert switch this word
    money_rounding:
      - { id: US-HALF-EVEN, entity: us, mode: half_even }
"""
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})


@pytest.fixture
def mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo configuration with a half-even candidate for us, and three tied time lines in August."""
    for name in ("billbridge.yaml", "mapping.yaml"):
        (tmp_path / name).write_text((REPO_CONFIG / name).read_text())
    (tmp_path / "mapping.yaml").write_text((REPO_CONFIG / "mapping.yaml").read_text() + CANDIDATE)
    monkeypatch.setenv("BILLBRIDGE_CONFIG", str(tmp_path / "billbridge.yaml"))
    current_config.cache_clear()
    config = load_config()
    entries = [time_entry(i, 0.35, 137.5, task=7000 + i) for i in (1, 2, 3)]  # 48.125 each: ties
    found = normalize_lines(
        raw_frame(entries, "us"), raw_frame([], "us"), directory({6001: True}, {5001: "USD"}),
        config.entity("us"), config, RATES, "seed",
    )  # fmt: skip
    with Warehouse().transaction("us") as con:
        append(con, "normalized.billable_lines", found.lines)
    yield tmp_path / "mapping.yaml"
    current_config.cache_clear()


def _differences() -> list[tuple[object, ...]]:
    return (
        Warehouse()
        .query(
            "us",
            "SELECT line_no, figure, serving_amount, shadow_amount, difference FROM billing.shadow_differences "
            "WHERE entity = 'us' AND period = '2026-08' ORDER BY line_no NULLS FIRST, figure",
        )
        .rows()
    )


def test_the_shadow_diff_is_exactly_the_hand_computed_one_and_never_posted(
    mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Serving half-up: 3 x 48.13 = 144.39. Candidate half-even: 3 x 48.12 = 144.36, which the ledger
    # books as 3 x 48.13 and a rounding line of -0.03. No tax for us; base currency USD.
    assert main(["shadow", "diff", "--entity", "us", "--period", "2026-08"]) == 0
    assert _differences() == [
        (None, "subtotal", D("144.39"), D("144.36"), D("-0.03")),
        (None, "total", D("144.39"), D("144.36"), D("-0.03")),
        (None, "total_base", D("144.39"), D("144.36"), D("-0.03")),
        (4, "line_amount", None, D("-0.03"), D("-0.03")),
        (4, "quantity", None, D("1"), D("1")),
        (4, "tax_amount", None, D("0"), D("0")),
        (4, "unit_amount", None, D("-0.03"), D("-0.03")),
    ]
    out = " ".join(capsys.readouterr().out.split())  # the report's columns, spaces aside
    assert "1 invoice(s), 7 figure(s) would change" in out
    assert "Invoice totals would move by: -0.03 USD" in out
    assert "invoice total 144.39 -> 144.36 -0.03 USD" in out
    assert "line 4 Rounding (line:half_even) line_amount - -> -0.03 -0.03 USD" in out
    warehouse = Warehouse()
    for table in ("billing.invoice_drafts", "billing.invoice_draft_lines", "posting.outbox"):
        assert warehouse.query("us", f"SELECT count(*) AS n FROM {table}")["n"][0] == 0, table
    shadow = warehouse.query("us", "SELECT total, rule_set_version FROM billing.shadow_invoice_drafts")
    assert shadow["total"].to_list() == [D("144.36")]
    assert shadow["rule_set_version"][0].endswith("~half-even-2026-09")
    # Nothing the posting step reads is a shadow table.
    for source in DOCUMENT_SOURCES.sources:
        assert "shadow" not in repr(source).lower(), source


def test_promote_then_revert_are_two_recorded_changes_that_restore_the_file(
    mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = mapping.read_bytes()
    assert main(["audit", "verify"]) == 0  # the trail has seen the configuration as it starts
    seen = len(list(AuditLog().entries()))

    assert main(["shadow", "promote", "--entity", "us"]) == 0
    assert "serving: candidate   # billbridge" in mapping.read_text()
    assert current_config().mapping.shadow[0].serving == "candidate"
    # Promoted, the candidate drafts for real and the old rules run in shadow: the diff turns round.
    assert main(["shadow", "diff", "--entity", "us", "--period", "2026-08"]) == 0
    assert (None, "total", D("144.36"), D("144.39"), D("0.03")) in _differences()

    assert main(["shadow", "revert", "--entity", "us"]) == 0
    assert mapping.read_bytes() == original
    assert current_config().mapping.shadow[0].serving == "current"

    entries = list(AuditLog().entries())[seen:]
    changes = [e for e in entries if e["action"] == "configuration.changed"]
    assert len(changes) == 2
    assert all(list(c["detail"]["files"]) == ["mapping.yaml"] for c in changes)
    assert (
        changes[0]["detail"]["files"]["mapping.yaml"]["to"]
        == changes[1]["detail"]["files"]["mapping.yaml"]["from"]
    )
    assert [(e["action"], e["outcome"]) for e in entries if e["action"].startswith("shadow.")] == [
        ("shadow.promote", "ok"), ("shadow.diff", "ok"), ("shadow.revert", "ok"),
    ]  # fmt: skip
    assert AuditLog().verify().problems == []


def test_a_candidate_that_is_not_enabled_cannot_be_promoted(
    mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping.write_text(mapping.read_text().replace("enabled: true", "enabled: false"))
    current_config.cache_clear()
    before = mapping.read_bytes()
    assert main(["shadow", "promote", "--entity", "us"]) == 2
    assert "is not enabled" in capsys.readouterr().err
    assert mapping.read_bytes() == before
    assert main(["shadow", "diff", "--entity", "us", "--period", "2026-08"]) == 1
    assert main(["shadow", "promote", "--entity", "uk"]) == 2
    assert "has no shadow candidate" in capsys.readouterr().err
