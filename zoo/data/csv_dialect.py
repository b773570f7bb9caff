"""The CSV conventions of a user's file: the delimiter, and decimal commas.

Spreadsheets set to a locale whose decimal mark is a comma (most of Europe) save "CSV" with ';'
between the cells and numbers such as ``1.234,5``; others may save ``"1,234.5"`` (quoted, so its
comma is no delimiter). `delimiter_of(header)` reads the delimiter from the header line: ',' if
it holds one, else ';' or a tab if it holds one of those, else ',' (a file of one column).
`with_plain_numbers(frame, decimal)` rewrites a text column whose every non-empty cell is a
number with that decimal mark and the other mark between groups of three digits (``1.234,5``
with decimal ',', ``1,234.5`` with '.'), and at least one of which holds a comma (so ``2.125``
alone, which may be a decimal point, is left alone), as plain numbers (``1234.5``); other
columns (dates such as 01.02.2024, text) are left as they are. A file separated by ';' is read
with decimal ',', any other with '.'.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["delimiter_of", "with_plain_numbers"]


def _number_pattern(decimal: str) -> str:
    group = "." if decimal == "," else ","
    g, d = re.escape(group), re.escape(decimal)
    return rf"^[+-]?(?:\d{{1,3}}(?:{g}\d{{3}})+|\d+)(?:{d}\d*)?(?:[eE][+-]?\d+)?$"


def delimiter_of(header: str) -> str:
    """The delimiter of a CSV file whose first line is `header` (module docstring)."""
    for mark in (",", ";", "\t"):
        if mark in header:
            return mark
    return ","


def with_plain_numbers(frame: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """`frame` (text cells) with its number columns written with group marks, or with decimal
    `decimal` ',' or '.', rewritten as plain numbers (module docstring)."""
    if decimal not in (",", "."):
        raise ValueError(f"`decimal` must be ',' or '.'. Received: decimal={decimal!r}")
    group = "." if decimal == "," else ","
    out = frame.copy()
    for name in frame.columns:
        text = frame[name].astype(str).str.strip()
        filled = text[text != ""]
        # Only a comma proves the convention: 2.125 in a ';' file may be a decimal point.
        if filled.empty or not filled.str.contains(",", regex=False).any():
            continue
        if filled.str.fullmatch(_number_pattern(decimal)).all():
            plain = text.str.replace(group, "", regex=False)
            out[name] = plain.str.replace(decimal, ".", regex=False)
    return out
