"""A few dozen of `make fuzz`'s seeded fault schedules in the suite: the fast ones, and two with a SIGKILL.

Each posts invoices, a credit note, a supplementary invoice, an intercompany bill, a journal and a
settlement's two payments (cash and bank fee) through its faults against the accounting sandbox, then
checks the ledger (bench/posting_fuzz.py):
every document exactly once, nothing lost, what billbridge records as booked is what the ledger
holds, and no open dead letter for a document the ledger holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz_schedules import Schedule, generate
from bench.posting_fuzz import quiet, run_schedule

pytestmark = pytest.mark.integration


def _fast(schedule: Schedule) -> bool:
    return len(schedule.faults) <= 4 and schedule.invoices <= 12


SCHEDULES = [s for s in map(generate, range(300)) if _fast(s)]
SEEDS = [s.seed for s in SCHEDULES if s.kill_after_s is None][:30] + [
    s.seed for s in SCHEDULES if s.kill_after_s is not None
][:2]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_fault_schedule_books_every_document_exactly_once(seed: int, tmp_path: Path) -> None:
    quiet()
    result = run_schedule(generate(seed), tmp_path)
    assert result.violations == [], f"{result.description}; reproduce with: {result.reproducer}"
