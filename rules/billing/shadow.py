"""Which billing rules serve an entity and which run in shadow, and what switching would change.

The serving rules draft the invoices that are posted; the shadow rules draft the same normalized
lines into shadow tables only (decision 0039). `draft_differences` compares the two drafts figure
by figure: every money figure of every invoice and line (and the line quantity, which a time
rounding rule moves) whose value differs, or which exists in one version only.

Lines are matched by what they bill, not by their number: invoice, kind, description, project,
task, account and the occurrence among equal lines, so a rounding line that appears in one version
does not shift the comparison of the lines after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from rules.billing.drafting import BillingRules, Drafts
from rules.money import MONEY
from rules.settings import BillbridgeConfig
from rules.shadow_candidates import ShadowCandidate

LINE_FIGURES = ("quantity", "unit_amount", "line_amount", "tax_amount")
INVOICE_FIGURES = ("subtotal", "total_tax", "total", "total_base")
_LINE_KEY = ("invoice_number", "source_kind", "description", "project_id", "task_id", "account_code")
DIFFERENCE_COLUMNS = (
    "invoice_number",
    "line_no",
    "description",
    "figure",
    "currency",
    "serving_amount",
    "shadow_amount",
    "difference",
)


@dataclass(frozen=True)
class RuleVersions:
    """The rules that draft for real (`serving`) and those drafted in shadow (None: no shadow)."""

    serving: BillingRules
    shadow: BillingRules | None = None


def candidate_for(config: BillbridgeConfig, entity_id: str) -> ShadowCandidate | None:
    """The entity's shadow candidate in the mapping document, if it has one."""
    return next((c for c in config.mapping.shadow if c.entity == entity_id), None)


def candidate_rules(current: BillingRules, candidate: ShadowCandidate) -> BillingRules:
    """The current rules with the candidate's sections in their place, versioned `<current>~<candidate>`."""
    return replace(
        current,
        rule_set_version=f"{current.rule_set_version}~{candidate.version}",
        **candidate.replaced(),  # type: ignore[arg-type]  # the sections carry BillingRules' own rule types
    )


def rule_versions(config: BillbridgeConfig, entity_id: str) -> RuleVersions:
    """The entity's serving rules and, when its candidate is enabled, the other version in shadow.

    A promoted candidate (`serving: candidate`) serves and the document's own rules run in shadow.
    """
    current = BillingRules.of(config)
    candidate = candidate_for(config, entity_id)
    if candidate is None:
        return RuleVersions(current)
    proposed = candidate_rules(current, candidate)
    serving, other = (proposed, current) if candidate.serving == "candidate" else (current, proposed)
    return RuleVersions(serving, other if candidate.enabled else None)


def _line_figures(drafts: Drafts) -> pl.DataFrame:
    """Each line's figures, long, keyed by what it bills; the invoice's currency on every row."""
    keyed = drafts.lines.join(
        drafts.invoices.select("invoice_number", "currency"), on="invoice_number", how="left"
    ).with_columns(pl.int_range(pl.len()).over(list(_LINE_KEY), order_by="line_no").alias("occurrence"))
    return keyed.unpivot(
        list(LINE_FIGURES),
        index=[*_LINE_KEY, "occurrence", "line_no", "currency"],
        variable_name="figure",
        value_name="amount",
    )


def _invoice_figures(drafts: Drafts) -> pl.DataFrame:
    """Each invoice's totals, long; total_base in the base currency."""
    return (
        drafts.invoices.unpivot(
            list(INVOICE_FIGURES),
            index=["invoice_number", "currency", "base_currency"],
            variable_name="figure",
            value_name="amount",
        )
        .with_columns(
            pl.when(pl.col("figure") == "total_base")
            .then(pl.col("base_currency"))
            .otherwise(pl.col("currency"))
            .alias("currency")
        )
        .drop("base_currency")
    )


def _compared(serving: pl.DataFrame, shadow: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Serving and shadow values side by side; the rows where they differ or one is missing."""
    joined = serving.join(shadow, on=key, how="full", coalesce=True, nulls_equal=True, suffix="_shadow")
    return (
        joined.rename({"amount": "serving_amount", "amount_shadow": "shadow_amount"})
        .with_columns(
            pl.coalesce("currency", "currency_shadow").alias("currency"),
            (pl.col("shadow_amount").fill_null(0) - pl.col("serving_amount").fill_null(0))
            .cast(MONEY)
            .alias("difference"),
        )
        .filter(
            (pl.col("difference") != 0)
            | pl.col("serving_amount").is_null()
            | pl.col("shadow_amount").is_null()
        )
    )


def draft_differences(serving: Drafts, shadow: Drafts) -> pl.DataFrame:
    """Every figure that switching from the serving drafts to the shadow drafts would change.

    One row per invoice figure (line_no and description null) and per line figure: the serving
    and shadow values (null where the invoice or line exists in one version only) and the
    difference, shadow less serving. Invoice rows first, then lines in invoice order.
    """
    lines = _compared(_line_figures(serving), _line_figures(shadow), [*_LINE_KEY, "occurrence", "figure"])
    lines = lines.with_columns(pl.coalesce("line_no", "line_no_shadow").alias("line_no"))
    invoices = _compared(_invoice_figures(serving), _invoice_figures(shadow), ["invoice_number", "figure"])
    invoices = invoices.with_columns(
        pl.lit(None, pl.Int32).alias("line_no"), pl.lit(None, pl.String).alias("description")
    )
    columns = [
        pl.col("invoice_number"),
        pl.col("line_no").cast(pl.Int32),
        pl.col("description"),
        pl.col("figure"),
        pl.col("currency"),
        pl.col("serving_amount").cast(MONEY),
        pl.col("shadow_amount").cast(MONEY),
        pl.col("difference"),
    ]
    order = {name: rank for rank, name in enumerate((*INVOICE_FIGURES, *LINE_FIGURES))}
    return (
        pl.concat([invoices.select(columns), lines.select(columns)])
        .with_columns(pl.col("figure").replace_strict(order, return_dtype=pl.Int32).alias("_rank"))
        .sort(["invoice_number", "line_no", "_rank"], nulls_last=False)
        .drop("_rank")
    )
