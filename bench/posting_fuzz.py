"""`make fuzz`: exactly-once posting under seeded random fault schedules, with SIGKILLs, checked against the ledger.

Every schedule (bench/fuzz_schedules.py) posts invoices, a credit note, a supplementary invoice, an
intercompany bill, a journal and the two payments (cash and bank fee) of one settlement to a fresh accounting-sandbox tenant whose idempotency-key window is
anywhere from 1 ms to 24 h, through 429s, 5xx, connections dropped before and after commit, stalls
past the client's timeout that commit later, and duplicate deliveries; in a quarter of them the
first run is SIGKILLed at a random moment. Runs repeat until nothing is in flight, the dead letters
are replayed once the faults are gone, and then the ledger is checked:

- every document is in the ledger exactly once, and nothing is lost;
- what billbridge records as booked (id, total, lines, content hash) is what the ledger holds;
- no dead letter is open for a document the ledger holds (checked before the replay).

Prints the schedules run, the violations, and for each a one-line reproducer.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import stamina

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.dead_letters import replay_dead_letters
from assets.posting.outbox import post_period
from bench.fuzz_schedules import (
    CLIENT_TIMEOUT_S,
    MAX_ATTEMPTS,
    PERIOD,
    PROCESSING_BOUND_S,
    Schedule,
    generate,
    other_documents,
    settlement_payments,
)
from bench.posting import synthetic_drafts, write_synthetic_drafts
from resources.configuration import load_config
from resources.outbox.sources import WarehouseReader
from resources.outbox.store import OutboxStore
from resources.warehouse import Warehouse, append
from resources.xero import XeroClient
from rules.settings import EntityConfig, PostingSettings
from sandbox.xero import XeroSandbox

MAX_RUNS = 10
FAULTS_CLEARED_BEFORE_RUN = 5  # a schedule's leftover faults stop firing then, so it can converge


@dataclass
class Result:
    """One schedule's outcome."""

    seed: int
    description: str
    reproducer: str
    runs: int = 0
    killed: bool = False
    seconds: float = 0.0
    violations: list[str] = field(default_factory=list)


def _entity(tenant: str) -> EntityConfig:
    posting = PostingSettings(max_attempts=MAX_ATTEMPTS, processing_bound_s=PROCESSING_BOUND_S)
    return (
        load_config()
        .entity("us")
        .model_copy(
            update={"accounting_tenant_id": tenant, "invoice_status": "AUTHORISED", "posting": posting}
        )
    )


def _client(url: str) -> XeroClient:
    return XeroClient(
        base_url=url, access_token="demo-xero-token", timeout_s=CLIENT_TIMEOUT_S, breaker_reset_s=0.1,
        calls_per_minute=100_000, calls_per_day=1_000_000,
    )  # fmt: skip


def _post(entity: EntityConfig, home: str, url: str, run_id: str) -> Any:
    return post_period(
        entity,
        PERIOD,
        Warehouse(home=home),
        _client(url),
        run_id,
        sources=DOCUMENT_SOURCES,
        backoff_base_s=0.02,
    )


def _write_documents(warehouse: Warehouse, entity: EntityConfig, invoices: int) -> None:
    write_synthetic_drafts(warehouse, entity, PERIOD, invoices)
    headers, lines = other_documents()
    corrections = headers["original_number"].is_not_null()  # the credit note and the supplementary invoice
    with warehouse.transaction("us") as con:
        for table, mask in (("billing.correction", corrections), ("billing.intercompany", ~corrections)):
            numbers = headers.filter(mask)["document_number"]
            append(con, f"{table}_documents", headers.filter(mask))
            append(con, f"{table}_document_lines", lines.filter(lines["document_number"].is_in(numbers)))
        payments, payment_lines = settlement_payments()
        append(con, "reconciliation.payment_documents", payments)
        append(con, "reconciliation.payment_document_lines", payment_lines)


def _edit_an_invoice(warehouse: Warehouse, entity: EntityConfig, invoices: int) -> None:
    """A time entry changes: the third invoice bills two more hours (a new version, a new content hash)."""
    number = synthetic_drafts(entity, PERIOD, invoices)[0]["invoice_number"][2]
    hours, rate = Decimal(5), Decimal("150.0000")  # invoice 3 billed 3 h; now 5 h
    amount = (hours * rate).quantize(Decimal("0.0001"))
    with warehouse.transaction("us") as con:
        con.execute(
            "UPDATE billing.invoice_drafts SET subtotal = ?, total = ?, total_base = ?, content_hash = ? "
            "WHERE invoice_number = ?",
            [amount, amount, amount, f"edited-{number}", number],
        )
        con.execute(
            "UPDATE billing.invoice_draft_lines SET quantity = ?, line_amount = ? WHERE invoice_number = ?",
            [hours, amount, number],
        )


def _versions(reader: WarehouseReader) -> dict[tuple[str, str], list[Decimal]]:
    """Every version the drafts hold now: (number, content hash) -> line amounts."""
    headers, lines = DOCUMENT_SOURCES.read(reader, "us", PERIOD)
    return {
        (h["document_number"], h["content_hash"]): lines.filter(
            lines["document_number"] == h["document_number"]
        )
        .sort("line_no")["line_amount"]
        .to_list()
        for h in headers.iter_rows(named=True)
    }


def _killed_run(entity: EntityConfig, home: str, url: str, after_s: float) -> None:
    """The first run, in a process of its own, SIGKILLed after `after_s` (if it is still running)."""
    context = multiprocessing.get_context("forkserver")
    child = context.Process(target=_post, args=(entity, home, url, "killed-run"))
    child.start()
    child.join(after_s)
    if child.is_alive():
        child.kill()
    child.join()


# -- what the ledger holds, and the checks --------------------------------------------------------
def _number(document: dict[str, Any]) -> str:
    if "Narration" in document:
        return str(document["Narration"]).split(": ", 1)[0]
    return str(document.get("InvoiceNumber") or document.get("CreditNoteNumber"))


def _ledger(sandbox: XeroSandbox, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """Every live document and payment of the tenant by number (a number twice is a duplicate);
    a payment's number is its Reference."""
    held: dict[str, list[dict[str, Any]]] = {}
    for document in sandbox.documents(tenant, None):
        if document.get("Status") not in ("DELETED", "VOIDED"):
            held.setdefault(_number(document), []).append(document)
    for payment in sandbox.transactions(tenant, "Payments"):
        if payment.get("Status") != "DELETED":
            held.setdefault(str(payment["Reference"]), []).append(payment)
    return held


def _is_payment(document: dict[str, Any]) -> bool:
    return "PaymentID" in document


def _amounts(document: dict[str, Any]) -> list[Decimal]:
    if _is_payment(document):
        return [Decimal(str(document["Amount"]))]
    lines = document.get("JournalLines") or document.get("LineItems") or []
    return [Decimal(str(line["LineAmount"])) for line in lines]


def _total(document: dict[str, Any]) -> Decimal:
    if "Narration" in document or _is_payment(document):
        return sum((a for a in _amounts(document) if a > 0), Decimal(0))
    return Decimal(str(document["Total"]))


def _no_duplicates(held: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [
        f"{number} is in the ledger {len(copies)} times" for number, copies in held.items() if len(copies) > 1
    ]


def _contacts_once(sandbox: XeroSandbox, tenant: str) -> list[str]:
    """A contact created twice (a retried batch create booked again) is a violation too."""
    names = Counter(str(contact["Name"]).lower() for contact in sandbox.contacts(tenant))
    return [f"contact {name!r} is in the ledger {n} times" for name, n in names.items() if n > 1]


def _open_letters_not_booked(warehouse: WarehouseReader, held: dict[str, list[dict[str, Any]]]) -> list[str]:
    letters = warehouse.query(
        "us", "SELECT dead_letter_id, document_number FROM posting.dead_letters WHERE state = 'open'"
    )
    return [
        f"dead letter {letter} is open for {number}, which the ledger holds"
        for letter, number in letters.iter_rows()
        if number in held
    ]


def _booked_is_the_ledger(
    warehouse: WarehouseReader,
    held: dict[str, list[dict[str, Any]]],
    versions: dict[tuple[str, str], list[Decimal]],
) -> list[str]:
    """Every document drafted is booked once, and billbridge's record of it is what the ledger holds."""
    problems = [f"{number} was never booked" for number, _ in versions if number not in held]
    rows = warehouse.query(
        "us", "SELECT document_number, status, external_id, posted_total, content_hash FROM posting.outbox"
    )
    posted = warehouse.query(
        "us",
        "SELECT document_number, line_amount FROM posting.posted_lines ORDER BY document_number, line_no",
    )
    for number, status, external_id, total, content_hash in rows.iter_rows():
        if number not in held:
            if status == "confirmed":
                problems.append(f"{number} is recorded as booked but the ledger does not hold it")
            continue
        ledger = held[number][0]
        ledger_id = next(
            ledger[k] for k in ("InvoiceID", "CreditNoteID", "ManualJournalID", "PaymentID") if k in ledger
        )
        kept = posted.filter(posted["document_number"] == number)["line_amount"].to_list()
        if _is_payment(ledger):  # a payment keeps no posted lines (decision 0030): its one line is its amount
            kept = _amounts(ledger)
        if status != "confirmed":
            problems.append(f"{number} is in the ledger but the outbox says {status}")
        elif external_id != ledger_id or total != _total(ledger):
            problems.append(
                f"{number}: recorded {external_id} {total}, the ledger holds {ledger_id} {_total(ledger)}"
            )
        elif kept != _amounts(ledger):
            problems.append(f"{number}: booked lines recorded {kept}, the ledger holds {_amounts(ledger)}")
        elif versions.get((number, content_hash)) != _amounts(ledger):
            problems.append(
                f"{number}: recorded content hash {content_hash[:12]} is not the version the ledger holds"
            )
    return problems


def _in_flight(warehouse: Warehouse, *, held: bool = False) -> int:
    """Documents still to send or settle; with `held`, also those held back (a payment of an invoice
    that is a dead letter waits for it, as a person would be told, not for another run)."""
    waiting = "" if held else " AND coalesce(last_error, '') NOT LIKE 'held:%'"
    found = warehouse.query(
        "us", f"SELECT count(*) AS n FROM posting.outbox WHERE status IN ('pending', 'sent'){waiting}"
    )
    return int(found["n"][0])


def run_schedule(schedule: Schedule, workdir: Path) -> Result:
    """Post the schedule's documents through its faults until nothing is in flight, then check the ledger."""
    started = time.perf_counter()
    result = Result(schedule.seed, schedule.describe(), schedule.reproducer())
    tenant = f"fuzz-{schedule.seed}-{uuid.uuid4().hex[:8]}"
    entity, home = _entity(tenant), str(workdir / "home")
    warehouse = Warehouse(home=home)
    reader = OutboxStore(warehouse, "us", "fuzz-check")  # one connection for the harness's own reads
    _write_documents(warehouse, entity, schedule.invoices)
    with reader.held():
        versions = _versions(reader)
    with XeroSandbox(
        [tenant], db_path=workdir / "xero.sqlite", minute_limit=None, day_limit=None,
        idempotency_window_s=schedule.key_window_s, base_currencies={tenant: "USD"},
    ) as sandbox:  # fmt: skip
        sandbox.inject(*schedule.faults)
        if schedule.kill_after_s is not None:
            _killed_run(entity, home, sandbox.url, schedule.kill_after_s)
            result.killed, result.runs = True, 1
        for run in range(result.runs + 1, MAX_RUNS + 1):
            if run == schedule.edit_before_run:
                _edit_an_invoice(warehouse, entity, schedule.invoices)
                with reader.held():
                    versions.update(_versions(reader))
            if run == FAULTS_CLEARED_BEFORE_RUN:
                sandbox.clear_faults()
            result.runs = run
            try:
                outcome = _post(entity, home, sandbox.url, f"run-{run}")
            except Exception as exc:  # a failed run is retried, as the schedule would retry it
                outcome = None
                result.description += f"; run {run} failed: {type(exc).__name__}: {str(exc)[:80]}"
            if outcome is not None and not outcome.stopped and _in_flight(warehouse) == 0:
                break
        else:
            result.violations.append(f"still in flight after {MAX_RUNS} runs")
        time.sleep(PROCESSING_BOUND_S)  # anything that could still land has landed
        held = _ledger(sandbox, tenant)
        sandbox.clear_faults()
        with reader.held():
            result.violations += _no_duplicates(held) + _open_letters_not_booked(reader, held)
            letters = reader.query(
                "us", "SELECT dead_letter_id FROM posting.dead_letters WHERE state = 'open'"
            )
        if letters.height:
            ids = letters["dead_letter_id"].to_list()
            replay_dead_letters(entity, ids, warehouse, _client(sandbox.url), DOCUMENT_SOURCES)
        _post_what_was_held(entity, home, sandbox.url, warehouse, result)
        held = _ledger(sandbox, tenant)
        with reader.held():
            result.violations += _no_duplicates(held) + _booked_is_the_ledger(reader, held, versions)
        result.violations += _contacts_once(sandbox, tenant)
    result.seconds = time.perf_counter() - started
    return result


def _post_what_was_held(
    entity: EntityConfig, home: str, url: str, warehouse: Warehouse, result: Result
) -> None:
    """Once the replayed dead letters are booked, the payments held for them go out on the next runs."""
    for run in range(1, MAX_RUNS + 1):
        if _in_flight(warehouse, held=True) == 0:
            return
        _post(entity, home, url, f"after-replay-{run}")
    result.violations.append(f"still held after the replay and {MAX_RUNS} more runs")


def quiet() -> None:
    """Only results on the terminal: the outbox's warnings and the retry library's notes are expected here."""
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.CRITICAL)
    stamina.instrumentation.set_on_retry_hooks([])


def _worker() -> None:
    """A fuzz worker prints nothing: the sandbox's notes about clients that hung up are expected here."""
    quiet()
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the worker's whole life


def run_seed(seed: int) -> Result:
    """One seed's schedule in a scratch folder of its own."""
    with tempfile.TemporaryDirectory(prefix=f"billbridge-fuzz-{seed}-") as scratch:
        return run_schedule(generate(seed), Path(scratch))


def main(argv: list[str] | None = None) -> int:
    """Run the schedules; print the count, the time and each violation with its reproducer."""
    parser = argparse.ArgumentParser(prog="python -m bench.posting_fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="schedules to run (default 1000)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, help="run this one schedule and say what it did")
    parser.add_argument("--jobs", type=int, default=2, help="schedules run at once (default 2)")
    args = parser.parse_args(argv)
    seeds = (
        [args.seed] if args.seed is not None else list(range(args.first_seed, args.first_seed + args.count))
    )
    os.environ["PYTHONWARNINGS"] = "ignore"  # the workers' imports warn about Dagster betas
    started = time.perf_counter()
    results: list[Result] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context, initializer=_worker) as pool:
        for result in pool.map(run_seed, seeds):
            results.append(result)
            if args.seed is not None or result.violations:
                print(
                    f"seed {result.seed}: {result.description}; {result.runs} run(s), {result.seconds:.1f}s"
                )
            for violation in result.violations:
                print(f"  VIOLATION seed {result.seed}: {violation}\n    reproduce: {result.reproducer}")
            if len(results) % 50 == 0:
                print(f"... {len(results)} schedules, {time.perf_counter() - started:.0f}s", flush=True)
    elapsed = time.perf_counter() - started
    kinds = Counter(name for r in results for name in generate(r.seed).fault_names())
    violations = sum(len(r.violations) for r in results)
    print(
        f"fuzz: {len(results)} schedules ({sum(r.killed for r in results)} with a SIGKILL, "
        f"{sum(r.runs for r in results)} runs; faults {dict(sorted(kinds.items()))}) in {elapsed:.0f}s: "
        f"{violations} violation(s) in {sum(bool(r.violations) for r in results)} schedule(s)"
    )
    return 1 if violations else 0


if __name__ == "__main__":
    multiprocessing.set_forkserver_preload(["bench.posting_fuzz"])
    sys.exit(main())
