"""`Warehouse.held`: a step's many connections share one open entity file, which stays locked to other
processes until the last hold ends (docs/decisions/0051)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import resources.warehouse as warehouse_module
from resources.warehouse import Warehouse


def _other_process_opens(path: Path) -> bool:
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True).close()"
    return subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True).returncode == 0


def test_a_hold_keeps_the_file_open_until_the_last_hold_ends(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    with warehouse.held("uk"):
        with warehouse.held("uk"), warehouse.transaction("uk") as con:
            con.execute("CREATE TABLE main.probe (n INTEGER)")
            con.execute("INSERT INTO main.probe VALUES (1)")
        assert not _other_process_opens(warehouse.path("uk"))  # the outer hold still has it
        # Another connection of this process, and a read-only warehouse's, see the committed row.
        assert warehouse.query("uk", "SELECT n FROM main.probe")["n"].to_list() == [1]
        reader = Warehouse(home=str(tmp_path), read_only=True)
        assert reader.query("uk", "SELECT count(*) AS n FROM main.probe")["n"].to_list() == [1]
    assert _other_process_opens(warehouse.path("uk"))


def test_a_failed_transaction_inside_a_hold_rolls_back_only_itself(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    with warehouse.held("uk"):
        with warehouse.transaction("uk") as con:
            con.execute("CREATE TABLE main.probe (n INTEGER)")
        with pytest.raises(RuntimeError), warehouse.transaction("uk") as con:
            con.execute("INSERT INTO main.probe VALUES (2)")
            raise RuntimeError("the step failed")
        assert warehouse.query("uk", "SELECT count(*) AS n FROM main.probe")["n"].to_list() == [0]
    assert Warehouse(home=str(tmp_path), read_only=True).query("uk", "SELECT count(*) AS n FROM main.probe")[
        "n"
    ].to_list() == [0]


def test_threads_holding_one_file_share_it_and_release_it_together(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    with warehouse.transaction("uk") as con:
        con.execute("CREATE TABLE main.probe (n INTEGER)")
    started, release = threading.Barrier(4), threading.Event()

    def hold_and_write(n: int) -> None:
        with warehouse.held("uk"):
            started.wait()
            with warehouse.transaction("uk") as con:
                con.execute("INSERT INTO main.probe VALUES (?)", [n])
            release.wait()

    threads = [threading.Thread(target=hold_and_write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    started.wait()  # all three hold the file at once
    assert not _other_process_opens(warehouse.path("uk"))
    release.set()
    for thread in threads:
        thread.join()
    assert _other_process_opens(warehouse.path("uk"))
    assert sorted(warehouse.query("uk", "SELECT n FROM main.probe")["n"].to_list()) == [0, 1, 2]


def test_no_connection_prints_duckdbs_progress_bar(tmp_path: Path) -> None:
    """A query over two seconds printed a progress bar between `billbridge close`'s run lines. Probed in a
    process of its own: under pytest's capture DuckDB starts with the bar off anyway."""
    probe = """
import sys
import resources.warehouse as warehouse_module
from resources.warehouse import Warehouse
warehouse, setting = Warehouse(home=sys.argv[1]), "SELECT current_setting('enable_progress_bar')"
with warehouse.connect("uk") as con:  # a file opened for this connection
    print(con.execute(setting).fetchall())
with warehouse.held("uk"), warehouse.connect("uk") as con:  # the held file's shared database
    print(con.execute(setting).fetchall())
print(Warehouse(home=sys.argv[1], read_only=True).query("uk", setting).rows())
"""
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[(False,)]"] * 3


def _other_process_writes(path: Path) -> bool:
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    return subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True).returncode == 0


def test_a_read_only_hold_opens_the_file_once_and_refuses_writes_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month report reads an entity dozens of times (decision 0055): one read-only open for them all."""
    writer = Warehouse(home=str(tmp_path))
    with writer.transaction("uk") as con:
        con.execute("CREATE TABLE main.probe (n INTEGER)")
        con.execute("INSERT INTO main.probe VALUES (1), (2)")
    opens: list[Path] = []
    real_open = warehouse_module._open_read_only

    def counted(path: Path, *args: object) -> object:
        opens.append(path)
        return real_open(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(warehouse_module, "_open_read_only", counted)
    reader = Warehouse(home=str(tmp_path), read_only=True)
    with reader.held("uk"):
        with reader.held("uk"):  # a nested hold (the month's outcome inside the month's report) joins
            sums = [reader.query("uk", "SELECT sum(n) AS s FROM main.probe")["s"][0] for _ in range(5)]
        assert not _other_process_writes(writer.path("uk"))  # held: a writer waits, as for a long read
        with pytest.raises(RuntimeError, match="held read-only"), writer.transaction("uk"):
            pass
    assert sums == [3] * 5 and opens == [writer.path("uk")]
    assert _other_process_writes(writer.path("uk"))
