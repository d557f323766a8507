"""The raw layer's asset checks: records screened out, payload drift, and priced fields keeping their type.

Screening and drift never stop the extraction: rejected records sit in raw.rejected_records with
their reasons and the rest proceed. Only a field money depends on changing type for most records
blocks the layers below (docs/decisions/0021).
"""

from __future__ import annotations

import dagster as dg

from resources.raw_extraction import ExtractionCounts
from rules.pm_screening import DEPRECATED_RECORD_VERSIONS

RECORDS_SCREENED = "records_screened"
PAYLOAD_DRIFT = "payload_drift"
PRICED_FIELDS_STABLE = "priced_fields_stable"
RAW_CHECK_NAMES = (RECORDS_SCREENED, PAYLOAD_DRIFT, PRICED_FIELDS_STABLE)


def raw_check_specs(asset: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The three checks of one raw asset (only the priced-field one blocks)."""
    return [
        dg.AssetCheckSpec(
            RECORDS_SCREENED, asset=asset, description="No PM record or page was rejected at extraction."
        ),
        dg.AssetCheckSpec(
            PAYLOAD_DRIFT,
            asset=asset,
            description="Payloads match the last extraction (or the registered shape).",
        ),
        dg.AssetCheckSpec(
            PRICED_FIELDS_STABLE,
            asset=asset,
            blocking=True,
            description="No field money depends on vanished or changed type: priced lines wait until one does.",
        ),
    ]


def _screened(label: str, counts: list[ExtractionCounts]) -> tuple[bool, str]:
    reasons: dict[str, int] = {}
    for c in counts:
        for reason, n in c.rejection_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    if not reasons:
        return True, f"{label}: none rejected"
    listed = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items()))
    return False, f"{label}: {sum(reasons.values())} rejected ({listed}); see raw.rejected_records"


def _drift(label: str, counts: list[ExtractionCounts]) -> tuple[bool, str]:
    """Drift against the baseline, and records that arrived in a deprecated source version."""
    found = [
        f"{label}: {len(c.drift.changes)} change(s) against {c.drift.baseline}"
        for c in counts
        if c.drift.changes
    ]
    for version, why in DEPRECATED_RECORD_VERSIONS.items():
        n = sum(c.record_versions.get(version, 0) for c in counts)
        if n:
            found.append(f"{label}: {n} record(s) in deprecated {version} ({why})")
    return not found, "; ".join(found) or f"{label}: no drift"


def _priced(label: str, counts: list[ExtractionCounts]) -> tuple[bool, str]:
    blocking = [f"{ch.field} {ch.before} -> {ch.after}" for c in counts for ch in c.drift.blocking]
    return (
        not blocking,
        f"{label}: priced fields changed: {', '.join(blocking)}" if blocking else f"{label}: stable",
    )


def raw_outcomes(label: str, counts: list[ExtractionCounts]) -> dict[str, tuple[bool, str]]:
    """{check: (passed, detail)} for one entity's extraction of one or more lists."""
    return {
        RECORDS_SCREENED: _screened(label, counts),
        PAYLOAD_DRIFT: _drift(label, counts),
        PRICED_FIELDS_STABLE: _priced(label, counts),
    }


def raw_check_results(
    asset: dg.AssetKey, logged: dict[str, list[tuple[bool, str]]], drift: str
) -> list[dg.AssetCheckResult]:
    """One result per check over the run's slices; a rejected record or drift warns, priced drift errs."""
    return [
        dg.AssetCheckResult(
            check_name=name,
            asset_key=asset,
            passed=all(ok for ok, _ in outcomes),
            severity=dg.AssetCheckSeverity.ERROR
            if name == PRICED_FIELDS_STABLE
            else dg.AssetCheckSeverity.WARN,
            metadata={
                "detail": "; ".join(detail for _, detail in outcomes),
                **({"diff": dg.MetadataValue.md(drift)} if name != RECORDS_SCREENED else {}),
            },
        )
        for name, outcomes in logged.items()
    ]


def drift_markdown(counts: list[ExtractionCounts]) -> str:
    """Every drift diff of the run, for the check's metadata."""
    return "\n\n".join(c.drift.markdown() for c in counts if c.drift.changes) or "No drift."
