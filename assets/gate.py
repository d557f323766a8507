"""The one check gate every asset passes: judge the partition, record the outcomes, write only what
passed, report every outcome to Dagster, and fail the run naming the check and the partition.

An asset computes a partition's frames and its blocking checks' outcomes ({check name: (passed,
detail)}), then:

    if not gate.admit(part, outcomes):      # a blocking check failed: outcomes recorded, nothing written
        yield from gate.stop()              # every outcome reported to Dagster, then the run fails
    with gate.transaction(part) as con:     # the rows and the outcomes commit together
        replace_slice(con, ...)
    ...
    yield dg.MaterializeResult(check_results=gate.results(), metadata=...)

Outcomes go to `quality.check_results` (the report and the weekly review read them); a failed
check shows on its asset in the UI with its detail, and the run's failure names the check and
the partition (docs/decisions/0018-one-check-gate-and-configuration-as-a-resource.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import dagster as dg
import duckdb
import polars as pl
from pandera.errors import SchemaErrors

from checks.registered import RegisteredModel
from checks.schemas import StrictModel, validate
from resources.warehouse import Warehouse, record_checks

Outcome = tuple[bool, str]  # (passed, detail)
Outcomes = Mapping[str, Outcome]  # by check name


class Partition(Protocol):
    """What the gate needs of a partition: the entity whose file it writes, and its label."""

    @property
    def entity(self) -> str: ...

    def label(self) -> str: ...


@dataclass(frozen=True)
class _Judged:
    label: str
    passed: bool
    detail: str


def blocking_checks(asset: dg.AssetKey, described: Mapping[str, str]) -> list[dg.AssetCheckSpec]:
    """Blocking checks of `asset` ({name: description}): the specs its decorator and its gate share."""
    return [
        dg.AssetCheckSpec(name, asset=asset, blocking=True, description=text)
        for name, text in described.items()
    ]


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


class CheckGate:
    """One asset's check gate over the partitions of a run, built from the asset's own check specs."""

    # How the check metadata counts the partitions judged (the group gate judges months).
    scope = "entity_months"

    def __init__(self, specs: Sequence[dg.AssetCheckSpec], warehouse: Warehouse, run_id: str) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.warehouse = warehouse
        self.run_id = run_id
        self._judged: dict[str, list[_Judged]] = {name: [] for name in self.specs}
        self._labels: list[str] = []
        self._admitted: dict[str, Outcomes] = {}
        self._written: list[str] = []

    def judge(self, label: str, outcomes: Outcomes) -> bool:
        """Keep one partition's outcomes for the report; whether every blocking check passed."""
        if set(outcomes) != set(self.specs):
            raise ValueError(
                f"{label}: outcomes for {sorted(outcomes)}, the asset declares {sorted(self.specs)}"
            )
        for name, (passed, detail) in outcomes.items():
            self._judged[name].append(_Judged(label, passed, detail))
        self._labels.append(label)
        return all(passed for name, (passed, _) in outcomes.items() if self.specs[name].blocking)

    def admit(self, part: Partition, outcomes: Outcomes) -> bool:
        """Judge one partition before anything of it is written: whether every blocking check passed.

        Failed: its outcomes are recorded now, on their own, and nothing else of it may be written.
        Passed: they are recorded by `transaction(part)`, in the same transaction as its rows.
        """
        if not self.judge(part.label(), outcomes):
            with self._transaction(part) as con:
                self._record(con, part, outcomes)
            return False
        self._admitted[part.label()] = outcomes
        return True

    @contextmanager
    def transaction(self, part: Partition) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write transaction of an admitted partition; its check outcomes commit with its rows."""
        outcomes = self._admitted.pop(part.label())
        with self._transaction(part) as con:
            yield con
            self._record(con, part, outcomes)
        self._written.append(part.label())

    def record(self, part: Partition, outcomes: Outcomes) -> bool:
        """Judge and record a partition whose rows are already written (the check judges what was done)."""
        passed = self.judge(part.label(), outcomes)
        with self._transaction(part) as con:
            self._record(con, part, outcomes)
        self._written.append(part.label())
        return passed

    @property
    def passed(self) -> bool:
        """Whether every blocking check passed in every partition judged so far."""
        return not self._failures()

    def results(self, asset_key: dg.AssetKey | None = None) -> list[dg.AssetCheckResult]:
        """One result per check (of `asset_key`, or of every asset), for `MaterializeResult(check_results=...)`."""
        return [
            dg.AssetCheckResult(asset_key=spec.asset_key, check_name=name, passed=passed, metadata=metadata)
            for name, spec, passed, metadata in self._summaries()
            if asset_key is None or spec.asset_key == asset_key
        ]

    def evaluations(self) -> list[dg.AssetCheckEvaluation]:
        """The same outcomes as explicit check evaluations: for a run that wrote nothing, or an op job."""
        return [
            dg.AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=name,
                passed=passed,
                metadata=metadata,
                blocking=spec.blocking,
                description=spec.description,
            )
            for name, spec, passed, metadata in self._summaries()
        ]

    def failure(self) -> dg.Failure:
        """The run's failure: every failed blocking check with its partition and detail, in one message."""
        failures = self._failures()
        names = sorted({name for name, _ in failures})
        unwritten = [label for label in self._labels if label not in self._written]
        message = f"blocking check(s) {', '.join(names)} failed"
        if unwritten:
            message += f", nothing of {', '.join(unwritten)} written"
        if self._written:
            message += f" ({', '.join(self._written)} written)"
        details = "; ".join(f"{name} on {judged.label}: {judged.detail}" for name, judged in failures)
        return dg.Failure(
            description=f"{message}: {details}",
            metadata={"failed_checks": ", ".join(names), self.scope: len(self._labels)},
        )

    def stop(self) -> Iterator[dg.AssetCheckEvaluation]:
        """Report every outcome to Dagster, then raise the failure: `yield from gate.stop()`.

        Explicit evaluations, not results: nothing new was materialized, so the outcomes must not
        attach to the asset's previous materialization.
        """
        yield from self.evaluations()
        raise self.failure()

    def _failures(self) -> list[tuple[str, _Judged]]:
        return [
            (name, judged)
            for name, spec in self.specs.items()
            if spec.blocking
            for judged in self._judged[name]
            if not judged.passed
        ]

    def _summaries(self) -> Iterator[tuple[str, dg.AssetCheckSpec, bool, dict[str, Any]]]:
        """Per judged check: passed in every partition, with each partition's detail in a table."""
        for name, judged in self._judged.items():
            if not judged:
                continue
            table = ["| partition | passed | detail |", "|---|---|---|"]
            table += [f"| {_cell(j.label)} | {j.passed} | {_cell(j.detail)} |" for j in judged]
            broken = [j.label for j in judged if not j.passed]
            metadata = {
                "detail": dg.MetadataValue.md("\n".join(table)),
                self.scope: len(judged),
                "broken_in": ", ".join(broken) or "none",
            }
            yield name, self.specs[name], not broken, metadata

    def _transaction(self, part: Partition) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.warehouse.transaction(part.entity)

    def _record(self, con: duckdb.DuckDBPyConnection, part: Partition, outcomes: Outcomes) -> None:
        for asset_key in {self.specs[name].asset_key for name in outcomes}:
            record_checks(
                con,
                entity=part.entity,
                asset="/".join(asset_key.path),
                partition=part.label(),
                outcomes={n: o for n, o in outcomes.items() if self.specs[n].asset_key == asset_key},
                run_id=self.run_id,
            )


def conforms(model: RegisteredModel | type[StrictModel], frame: pl.DataFrame) -> Outcome:
    """A pandera write gate as a check outcome: the detail names each failing column and check."""
    try:
        validate(model, frame)
    except SchemaErrors as exc:
        cases = exc.failure_cases.group_by("column", "check", maintain_order=True).agg(
            pl.len().alias("n"), pl.col("failure_case").first().alias("example")
        )
        problems = [
            f"{col} {check}: {n} failure(s), e.g. {example}" for col, check, n, example in cases.iter_rows()
        ]
        return False, f"{model.__name__}: " + "; ".join(problems)
    return True, f"{frame.height} row(s) match {model.__name__}"
