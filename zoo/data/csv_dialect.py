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

A column whose every non-empty cell carries one currency sign ("$1,234.50", "1.234,50 €") or a
percent sign ("12.5%", read as 12.5) has the sign taken off first: a spreadsheet's number format.

`file_text(path)` reads a file's text in its encoding: UTF-32 or UTF-16 by their byte-order
mark (Excel's "Unicode Text" is UTF-16 with tabs), UTF-8 (with or without its mark) when every
byte decodes so, else Windows-1252, the ANSI code page that Excel on Windows saves "CSV" in for
Western locales (a header such as "Umsatz €" or "ventes é"), with a warning that says so.
"""

from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["delimiter_of", "file_text", "with_plain_numbers"]

# Byte-order marks, the longer first (UTF-32 LE's begins with UTF-16 LE's).
_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def file_text(path: str | Path) -> str:
    """The text of the file at `path`, read once and decoded by its encoding (module
    docstring)."""
    raw = Path(path).read_bytes()
    for mark, name in _MARKS:
        if raw.startswith(mark):
            return raw.decode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        where = error.start
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # every byte is a character: the header stays readable
    warnings.warn(
        f"{str(path)!r} is not UTF-8 (byte 0x{raw[where]:02x} at offset {where}); it is read as "
        "Windows-1252, as Excel saves CSV on Windows. Save it as 'CSV UTF-8' to be sure.",
        stacklevel=3,
    )
    return text


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
        written = frame[name].astype(str).str.strip()
        text = _without_unit(written)
        if not text.equals(written):
            out[name] = text  # a unit sign taken off
        filled = text[text != ""]
        # Only a comma proves the convention: 2.125 in a ';' file may be a decimal point.
        if filled.empty or not filled.str.contains(",", regex=False).any():
            continue
        if filled.str.fullmatch(_number_pattern(decimal)).all():
            plain = text.str.replace(group, "", regex=False)
            out[name] = plain.str.replace(decimal, ".", regex=False)
    return out


# A currency sign before or after a number, or a percent sign after it (group 1: the number).
_UNITS = (r"^([+-]?)\s*[$€£¥]\s*(.+)$", r"^(.+?)\s*[$€£¥]$", r"^(.+?)\s*%$")


def _without_unit(text: pd.Series) -> pd.Series:
    """`text` with one unit sign taken off every cell that holds a digit when all of them carry
    the same sign ("$1,234.50", "1.234,50 €", "12.5%"; a percentage stays in percent points): a
    spreadsheet's formatted column. Cells without a digit (empty, "NA", "-") stay as written,
    for the reader to report; any other column is returned as it is."""
    numeric = text.str.contains(r"\d")
    filled = text[numeric]
    if filled.empty:
        return text
    for pattern in _UNITS:
        found = filled.str.extract(pattern)
        number = found.iloc[:, -1]
        if found.notna().all().all() and number.str.fullmatch(r"[+-]?\d[\d.,\s]*").all():
            signs = filled.str.replace(r"[^$€£¥%]", "", regex=True)
            if signs.nunique() == 1:
                out = text.copy()
                out[numeric] = found[0] + found[1] if found.shape[1] == 2 else number
                return out
    return text
