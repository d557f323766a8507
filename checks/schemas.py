"""pandera models for every frame that crosses a layer: the write gate before anything is stored.

Each model is derived from its table's registered shape (rules/schemas/, checks/registered.py): one
source of truth for the DuckDB DDL, the polars schema and the model. Money columns are Decimal with
an exact precision and scale, so a float column (or a silently rescaled one) fails validation
instead of reaching a ledger.
"""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

from checks.registered import RegisteredModel, model_for
from rules.money import FX_RATE, MONEY, WIDE

# The money dtypes of rules/money.py, as pandera annotations: a float or rescaled column is refused.
Money = Annotated[pl.Decimal, MONEY.precision, MONEY.scale]
Rate = Annotated[pl.Decimal, FX_RATE.precision, FX_RATE.scale]
Wide = Annotated[
    pl.Decimal, WIDE.precision, WIDE.scale
]  # exact intermediate values (shares, unrounded amounts)


class StrictModel(pa.DataFrameModel):
    """A frame that is not a table (an export file): exactly these columns, of exactly these types."""

    class Config:
        strict = True  # no unexpected columns cross a layer
        coerce = False  # a wrong type is an error, never silently converted


RawRecords = model_for(
    "raw.time_entries", "RawRecords"
)  # time entries and expenses as extracted (the same shape)
BillableLines = model_for("normalized.billable_lines", "BillableLines")
Quarantine = model_for("normalized.quarantine", "Quarantine")
InvoiceDrafts = model_for("billing.invoice_drafts", "InvoiceDrafts")
InvoiceDraftLines = model_for("billing.invoice_draft_lines", "InvoiceDraftLines")
RetainerBalances = model_for("billing.retainer_balances", "RetainerBalances")
CorrectionDocuments = model_for("billing.correction_documents", "CorrectionDocuments")
CorrectionDocumentLines = model_for("billing.correction_document_lines", "CorrectionDocumentLines")
CorrectionSources = model_for("billing.correction_sources", "CorrectionSources")
CorrectionHolds = model_for("billing.correction_holds", "CorrectionHolds")
# Shadow drafts of a candidate rule set and their differences from the real drafts (decision 0039).
ShadowInvoiceDrafts = model_for("billing.shadow_invoice_drafts", "ShadowInvoiceDrafts")
ShadowInvoiceDraftLines = model_for("billing.shadow_invoice_draft_lines", "ShadowInvoiceDraftLines")
ShadowDifferences = model_for("billing.shadow_differences", "ShadowDifferences")


def validate(model: RegisteredModel | type[StrictModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate `frame` against `model`, collecting every failure (lazy), and return it (integer
    columns at their registered widths)."""
    return model.validate(frame, lazy=True)
