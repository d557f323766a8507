"""The UI without surprises: no community pop-up in the generated instance; `reallocate` opens valid.

Found on main (issue 14): the generated dagster.yaml left the "join the community" pop-up on, and
the `reallocate` launchpad opened with run config that failed validation (`months` missing).
"""

import re

import dagster as dg

from pipelines.definitions import defs
from pipelines.runner import ensure_dagster_home


def test_generated_instance_has_no_pop_up_and_no_telemetry() -> None:
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False
        assert instance.run_monitoring_enabled is True


def test_reallocate_launchpad_default_is_valid_and_a_dry_run() -> None:
    job = defs.resolve_job_def("reallocate")
    config = dg.validate_run_config(job, None)  # raises on main: `months` is required
    scope = config["ops"]["reallocate_scope"]["config"]
    assert scope["dry_run"] is True
    assert len(scope["months"]) == 1 and re.fullmatch(r"\d{4}-\d{2}", scope["months"][0])
