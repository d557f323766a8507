"""`billbridge report --html`: the month report (assets/month_report.py) written as one offline HTML file,
by default where the `reporting/month_report` asset writes it (BILLBRIDGE_HOME/reports/<period>.html)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from assets.month_report import month_report, report_path
from resources.configuration import current_config
from resources.month_report_html import write_report
from resources.warehouse import Warehouse, WarehouseBusyError
from rules.calendar import add_months

EXIT_BUSY = 75  # as `billbridge report`: a run holds an entity; try again later


def latest_period(warehouse: Warehouse, entities: list[str]) -> str:
    """The latest month any entity drafted documents for; the last calendar month when none did."""
    periods = []
    for entity in (e for e in entities if warehouse.exists(e)):
        try:
            found = warehouse.query(entity, "SELECT max(period) AS p FROM billing.invoice_drafts")["p"][0]
        except WarehouseBusyError:
            continue
        periods += [found] if found else []
    return max(periods) if periods else add_months(date.today().replace(day=1), -1).strftime("%Y-%m")


def html_report(args: argparse.Namespace) -> int:
    """Write the month report; exit 75 when a run held an entity (the file says which), 0 otherwise."""
    config = current_config()
    entities = [args.entity] if args.entity else config.entity_ids
    warehouse = Warehouse(read_only=True, lock_wait_s=args.wait)
    period = args.period or latest_period(warehouse, entities)
    report = month_report(warehouse, config, date.fromisoformat(f"{period}-01"), entities)
    path = write_report(report, Path(args.out) if args.out else report_path(period))
    print(f"month report {period}: {path}")
    for entity in report.busy:
        print(
            f"billbridge report: {entity}: a run holds its warehouse; left out of the report", file=sys.stderr
        )
    return EXIT_BUSY if report.busy else 0
