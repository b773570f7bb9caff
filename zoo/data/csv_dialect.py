"""The CSV conventions of a user's file: the delimiter, and decimal commas.

Spreadsheets set to a locale whose decimal mark is a comma (most of Europe) save "CSV" with ';'
between the cells and numbers such as ``1.234,5``. `delimiter_of(header)` reads the delimiter
from the header line: ',' if it holds one, else ';' or a tab if it holds one of those, else ','
(a file of one column). `with_decimal_points(frame)` is applied to the text cells of a
';'-separated file: a column whose every non-empty cell is such a number (digits with optional
'.' between groups of three, a decimal comma) and at least one of which holds a comma is
rewritten with a decimal point and no group marks (``1.234,5`` → ``1234.5``); other columns
(dates such as 01.02.2024, text) are left as they are.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["delimiter_of", "with_decimal_points"]

_COMMA_NUMBER = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?(?:[eE][+-]?\d+)?$"


def delimiter_of(header: str) -> str:
    """The delimiter of a CSV file whose first line is `header` (module docstring)."""
    for mark in (",", ";", "\t"):
        if mark in header:
            return mark
    return ","


def with_decimal_points(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (text cells) with its decimal-comma number columns rewritten (module docstring)."""
    out = frame.copy()
    for name in frame.columns:
        text = frame[name].astype(str).str.strip()
        filled = text[text != ""]
        if filled.empty or not filled.str.contains(",", regex=False).any():
            continue
        if filled.str.fullmatch(_COMMA_NUMBER).all():
            out[name] = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return out
