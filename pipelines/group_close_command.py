"""What `billbridge close` does: the group's month close, every entity's close at once up to a limit,
then the group close once every entity is done.

Each entity's close (extract, normalize, bill, intercompany, allocate, post, ledger export: decision
0038) runs as `billbridge sync` in a process of its own (forked from a server that imported the code
once), so entities' warehouse files keep one writer each (decision 0001) and the tenants post in
parallel, each at its own provider limit. The entity processes share the command's start as the
moment their PM account reading must be newer than (decision 0042), so the account is read once for
all of them. The group close waits for every entity:
with one not done it does not run, and the command says which entity to look at.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.context import ForkServerContext

import dagster as dg

from pipelines import runner
from pipelines.progress import WHOLE_LINES_ENV
from pipelines.sync_command import EXIT_BUSY, EXIT_DONE, EXIT_NOT_DONE, SyncReport, SyncRequest, run_sync


@dataclass(frozen=True)
class GroupCloseRequest:
    """Which month, which entities, how many at once, and how each runs."""

    month: date
    entities: list[str]
    parallel: int = 4
    settings: runner.RunSettings = field(default_factory=runner.RunSettings)
    wait_s: float = 600.0


@dataclass
class GroupCloseReport:
    """Each entity's exit code, and the group close's report (None when it could not run)."""

    entity_codes: dict[str, int]
    group: SyncReport | None

    @property
    def exit_code(self) -> int:
        codes = [*self.entity_codes.values(), *([self.group.exit_code] if self.group else [])]
        if any(code not in (EXIT_DONE, EXIT_BUSY) for code in codes):
            return EXIT_NOT_DONE
        return EXIT_BUSY if EXIT_BUSY in codes else EXIT_DONE


def _entity_arguments(entity: str, request: GroupCloseRequest) -> list[str]:
    """The `billbridge sync` arguments of one entity's close."""
    command = ["sync", "--entity", entity,
               "--period", f"{request.month:%Y-%m}", "--wait", f"{request.wait_s:g}",
               "--executor", request.settings.executor]  # fmt: skip
    return (
        command
        + (["--rerate-fx"] if request.settings.rerate_fx else [])
        + (["--verbose"] if request.settings.verbose else [])
    )


# What every entity process imports, imported once by the server the processes are forked from.
PRELOADED = ("pipelines.cli", "pipelines.definitions", "pipelines.runner")


def entity_processes() -> ForkServerContext:
    """Where entity processes come from: forked from a server that imported the code once
    (multiprocessing's forkserver), so no entity pays the imports again (about 2 s of CPU each,
    a seventh of a small entity's close). The server is a fresh single-threaded process, so
    nothing of this process (its Dagster instance, its threads) is inherited."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))
    return context


def _close_entity(arguments: list[str], env: dict[str, str]) -> None:
    """An entity process: `billbridge sync` with the close's environment; its exit code is sync's."""
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["billbridge", *arguments]  # what the entity's lock names as its holder's command
    from pipelines.cli import main

    raise SystemExit(main(arguments))


def entity_environment(request: GroupCloseRequest) -> dict[str, str]:
    """An entity process's environment: the close's PM moment (decision 0042), and whole progress
    lines, since the entities share the terminal and a line started by one must not be finished by
    another's."""
    return {**os.environ, runner.PAGES_SINCE_ENV: request.settings.pages_since, WHOLE_LINES_ENV: "1"}


def close_entities(request: GroupCloseRequest) -> dict[str, int]:
    """Every entity's close, `parallel` processes at a time; their exit codes by entity."""
    runner.ensure_dagster_home()
    # The instance's storage is created here, once: processes creating it together race on its schema.
    with dg.DagsterInstance.get():
        pass
    env = entity_environment(request)
    processes = entity_processes()

    def close(entity: str) -> int:
        process = processes.Process(target=_close_entity, args=(_entity_arguments(entity, request), env))
        process.start()
        process.join()
        return process.exitcode if process.exitcode is not None else EXIT_NOT_DONE

    with ThreadPoolExecutor(max_workers=max(1, request.parallel)) as pool:
        return dict(zip(request.entities, pool.map(close, request.entities), strict=True))


def run_group_close(request: GroupCloseRequest) -> GroupCloseReport:
    """The entities' closes, then (only if every one is done) the group close of the month."""
    codes = close_entities(request)
    waiting = [entity for entity, code in codes.items() if code != EXIT_DONE]
    if waiting:
        for entity in waiting:
            print(f"{entity} {request.month:%Y-%m}: not done (exit {codes[entity]}); see its lines above, "
                  f"then `billbridge sync --entity {entity} --period {request.month:%Y-%m}`")  # fmt: skip
        print("group close not run: it needs every entity's month closed and exported")
        return GroupCloseReport(codes, None)
    group = run_sync(SyncRequest([], [request.month], request.settings, True, request.wait_s))
    return GroupCloseReport(codes, group)
