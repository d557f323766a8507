"""Progress of `billbridge demo` and `sync`: one line per run, `[7/21] us 2026-09 bill and post`.

The line is printed when the run starts (so a terminal shows what is under way) and
completed with its status, duration and the elapsed time when it ends; every failure and
finding follows on its own indented line. An entity's process under `billbridge close` shares
the terminal with the others running at once: there (WHOLE_LINES_ENV) each run's line is written
only when the run ends, with its findings, in one write, so lines from different processes never
interleave.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from pipelines.runner import RunOutcome

WHOLE_LINES_ENV = "BILLBRIDGE_PROGRESS_WHOLE_LINES"  # "1": runs' lines written whole, at their end

TITLES = {
    "extract_and_normalize": "extract and normalize",
    "bill_and_post": "bill and post",
    "consolidate_group": "group close",
}


@dataclass
class Progress:
    """Counts runs against the plan and prints each one's line."""

    total: int
    runbook_base: str = "docs/runbooks/"
    out: TextIO = field(default_factory=lambda: sys.stdout)  # the stream of the moment (tests swap it)
    done: int = 0
    started: float = 0.0
    whole_lines: bool = field(default_factory=lambda: os.environ.get(WHOLE_LINES_ENV) == "1")
    _pending: str = ""  # the started run's line, while `whole_lines` holds it back

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def begin(self, scope: str, job: str) -> None:
        """Print the start of a run's line (completed by `end`)."""
        self.done += 1
        width = len(str(self.total))
        title = TITLES.get(job, job)
        self._write(f"[{self.done:>{width}}/{self.total}] {scope:<13} {title:<22}", whole=False)

    def skip(self, why: str) -> None:
        """Complete the line of a run that was not started."""
        self._write(f" skipped: {why}\n", whole=True)

    def end(self, outcome: RunOutcome) -> None:
        """Complete the run's line, then one line per failure and finding."""
        status = "ok" if outcome.done else "FAILED" if not outcome.success else "NOT DONE"
        lines = [f" {status:<8} {outcome.seconds:6.1f} s  {self._elapsed():>6}  run {outcome.run_id[:8]}\n"]
        if outcome.error:
            lines.append(f"    ! {outcome.error}\n")
        for finding in outcome.findings:
            mark = "!" if finding.failed else "~"
            lines.append(f"    {mark} {finding.line(self.runbook_base)}\n")
        self._write("".join(lines), whole=True)

    def _write(self, text: str, *, whole: bool) -> None:
        """Write `text` now, or (with `whole_lines`) keep a line's start until the line is `whole`."""
        if self.whole_lines:
            self._pending += text
            if not whole:
                return
            text, self._pending = self._pending, ""
        self.out.write(text)
        self.out.flush()
