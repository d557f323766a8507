"""A posting run killed with SIGKILL at each named point, then re-run: exactly once every time.

The poster runs in a real child process; the accounting sandbox's SQLite ledger outlives the
crash and the sandbox is restarted on it with an idempotency window of a millisecond, so the
re-run can only be saved from a duplicate by looking documents up, never by the provider's key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from assets.posting.posting_pass import CRASH_ENV, CRASH_POINTS
from bench.posting import write_synthetic_drafts
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.settings import PostingSettings
from sandbox.xero import XeroSandbox

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COUNT = 60  # two batches, so "answer stored but the batch not finished" has a second batch
CHILD = """
import sys
from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.settings import PostingSettings
url, tenant, home = sys.argv[1:4]
entity = current_config().entity("us").model_copy(update={"accounting_tenant_id": tenant})
post_period(entity, "2026-08", Warehouse(home=home), XeroClient(base_url=url, access_token="demo-xero-token"), "crashing-run", sources=DOCUMENT_SOURCES)
print("finished without crashing")
"""


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_at_each_point_then_rerun_posts_exactly_once(point: str, tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = current_config().entity("us").model_copy(update={"accounting_tenant_id": tenant})
    home, ledger = tmp_path / "home", tmp_path / "xero.sqlite"
    warehouse = Warehouse(home=str(home))
    write_synthetic_drafts(warehouse, entity, "2026-08", COUNT)

    with XeroSandbox([tenant], db_path=ledger) as sandbox:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, sandbox.url, tenant, str(home)],
            env={**os.environ, CRASH_ENV: point, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        booked_before = len(sandbox.documents(tenant))
    sandbox.close()
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    statuses = warehouse.query("us", "SELECT status, count(*) AS n FROM posting.outbox GROUP BY ALL")
    assert dict(zip(statuses["status"], statuses["n"], strict=True)).get("confirmed", 0) < COUNT
    if point == "outbox_written":
        assert booked_before == 0
    else:
        assert booked_before > 0  # the provider booked documents whose answers the run never stored

    with XeroSandbox([tenant], db_path=ledger, idempotency_window_s=0.001) as sandbox:
        # What the killed run sent is looked up after the rerun's timeout plus the processing bound.
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token", timeout_s=2.0)
        bounded = entity.model_copy(update={"posting": PostingSettings(processing_bound_s=0.5)})
        rerun = post_period(bounded, "2026-08", warehouse, xero, "rerun", sources=DOCUMENT_SOURCES)
        documents = sandbox.documents(tenant)
    sandbox.close()
    numbers = Counter(d["InvoiceNumber"] for d in documents)
    assert max(numbers.values()) == 1 and len(numbers) == COUNT
    expected = {f"BB-US-202608-{5001 + k}-USD": Decimal(k % 37 + 1) * Decimal("150.00") for k in range(COUNT)}
    assert {d["InvoiceNumber"]: Decimal(str(d["Total"])) for d in documents} == expected
    assert len(rerun.posted_new) + len(rerun.found_by_lookup) + len(rerun.already_posted) == COUNT
    assert len(rerun.posted_new) == COUNT - booked_before
    confirmed = warehouse.query("us", "SELECT count(*) AS n FROM posting.outbox WHERE status = 'confirmed'")
    assert confirmed["n"][0] == COUNT
