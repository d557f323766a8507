"""CSV files written for people to open in a spreadsheet.

Text that came from the PM system (client, project and task names, notes) is untrusted: a
cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)` leaks data with one click). Every
text cell is neutralised with a leading apostrophe, which the spreadsheet shows as plain
text (OWASP's advice on CSV injection); numbers and dates are written as they are, so money
keeps its exact digits. The file is owner-only: exports hold customer names and amounts.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from resources.private_files import PRIVATE_FILE_MODE, private_file

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: pl.Expr) -> pl.Expr:
    """The text with a leading apostrophe when a spreadsheet would run it as a formula."""
    starts_like_formula = pl.any_horizontal(text.str.starts_with(t) for t in FORMULA_TRIGGERS)
    return pl.when(starts_like_formula).then(pl.lit("'") + text).otherwise(text)


def write_spreadsheet_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` as CSV, text cells neutralised and Decimals as their exact digits, mode 0600."""
    safe = frame.with_columns(
        *(
            neutralise_formula(pl.col(name)).alias(name)
            for name, dtype in frame.schema.items()
            if dtype == pl.String
        ),
        pl.col(pl.Decimal).cast(pl.String),  # exact digits, never via float
    )
    # Created owner-only from the start (not chmod-ed after others could open it).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        safe.write_csv(handle)
    private_file(path)  # an existing file keeps its old mode through O_TRUNC
