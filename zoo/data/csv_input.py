"""A user's data from a file: one CSV column as a float series, a numeric table, or images.

A file may be UTF-8, UTF-16 or Windows-1252 text (`csv_dialect.file_text`), separate its
cells with ',', ';' or tabs, a ';'-separated one may write decimal commas, and numbers may hold
group marks (1,234.5; `zoo.data.csv_dialect`); the names in the header are read without
surrounding spaces; comment lines ('#') and blank lines above the header are skipped. Every
reader fails with an error that names the argument, what was expected and what was received: a
missing column lists the columns the file has; a NaN, an empty cell or a non-numeric value gives
its row (1-based data row, header not counted) and the offending text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.csv_dialect import delimiter_of, file_text, with_plain_numbers

__all__ = ["read_array", "read_images", "read_series", "read_table"]


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"`path` must be an existing CSV file. Received: {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"`path` must be a CSV file. Received the folder {str(path)!r}")
    text = file_text(path)
    preamble, header = 0, ""
    for line in io.StringIO(text, newline=None):  # comment ('#') and blank lines above the
        if line.strip() and not line.lstrip().startswith("#"):  # header are skipped
            header = line
            break
        preamble += 1
    delimiter = delimiter_of(header)
    try:
        # Everything as text first, so that a bad cell is reported as the user wrote it; blank
        # lines are kept (an empty value in a one-column file is a gap, not something to skip).
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            skiprows=preamble,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"`path` must be a CSV file with a header row. Received an empty file: {str(path)!r}"
        ) from None
    # Blank lines after the last data row (an editor's trailing newlines) are not data.
    blank = frame.apply(lambda cells: cells.str.strip() == "").all(axis=1).to_numpy()
    frame = frame.iloc[: len(blank) - int(np.argmax(~blank[::-1])) if (~blank).any() else 0]
    # A ';'-separated file comes from a locale with decimal commas (`zoo.data.csv_dialect`).
    frame = with_plain_numbers(frame, "," if delimiter == ";" else ".")
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame


MISSING_MARKS = ("", "nan", "na", "n/a", "null", "none", "-")


def bad_value_hint(cell: str) -> str:
    """What to do about a value cell that is not a finite number: fill a missing one, or write a
    plain number."""
    if str(cell).strip().lower() in MISSING_MARKS:
        return "fill or drop missing values first."
    return "write each value as a number such as 1234.5 or -2e3."


def _column_as_float(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    if column not in frame.columns:
        raise KeyError(
            f"`column` must name a column of {str(path)!r}. Received: column={column!r}; "
            f"the file has: {', '.join(map(repr, frame.columns)) or '(no columns)'}"
        )
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`column` {column!r} of {str(path)!r} must hold finite numbers. Received "
            f"{text.iloc[row]!r} at data row {row + 1} ({int(bad.sum())} bad value(s) in all); "
            + bad_value_hint(text.iloc[row])
        )
    return values


def read_series(path: str | Path, column: str) -> np.ndarray:
    """Column `column` of the CSV file `path` as a 1-D float64 array, in file order.

    Raises:
        FileNotFoundError: `path` does not exist.
        KeyError: the file has no column `column` (the message lists the columns it has).
        ValueError: a value is empty, NaN, infinite or not a number, or the column is empty.
    """
    path = Path(path)
    frame = _read_csv(path)
    values = _column_as_float(frame, column, path)
    if values.size == 0:
        raise ValueError(f"`column` {column!r} of {str(path)!r} must hold values. Received 0 rows.")
    return values


def read_table(path: str | Path, columns: Sequence[str] | None = None) -> np.ndarray:
    """Columns `columns` (all columns if None) of a CSV file as a (rows, columns) float64 array."""
    path = Path(path)
    frame = _read_csv(path)
    names = list(frame.columns) if columns is None else list(columns)
    if not names:
        raise ValueError(f"`columns` must name at least one column. Received: {columns!r}")
    table = np.stack([_column_as_float(frame, name, path) for name in names], axis=1)
    if table.shape[0] == 0:
        raise ValueError(f"`path` {str(path)!r} must hold data rows. Received 0 rows.")
    return table


def read_array(path: str | Path, column: str | None = None) -> np.ndarray:
    """A `.npy` file as it is, or a CSV file: one column if `column` is given, else all columns."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.exists():
            raise FileNotFoundError(
                f"`path` must be an existing .npy file. Received: {str(path)!r}"
            )
        array = np.load(path, allow_pickle=False)
        if not np.issubdtype(array.dtype, np.number):
            raise ValueError(
                f"`path` {str(path)!r} must hold numbers. Received dtype {array.dtype}."
            )
        array = array.astype("float64")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`path` {str(path)!r} must hold finite numbers. Received NaN or inf.")
        return array
    if column is not None:
        return read_series(path, column)
    table = read_table(path)
    return table[:, 0] if table.shape[1] == 1 else table


def read_images(
    path: str | Path, height: int, width: int, exclude: Sequence[str] = ("label", "target")
) -> np.ndarray:
    """Images as (n, height, width, 1) float32 from a `.npy` or a CSV with height*width columns.

    A `.npy` may hold (n, height, width), (n, height, width, 1) or (n, height*width); a CSV has one
    image per row, pixels in row-major order; columns named in `exclude` (case-insensitive, e.g.
    the label column) are ignored.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        array = read_array(path)
    else:
        frame = _read_csv(path)
        skip = {str(name).lower() for name in exclude}
        names = [c for c in frame.columns if str(c).lower() not in skip]
        array = np.stack([_column_as_float(frame, name, path) for name in names], axis=1)
    pixels = height * width
    if array.ndim == 2 and array.shape[1] == pixels:
        array = array.reshape(-1, height, width)
    if array.ndim == 3 and array.shape[1:] == (height, width):
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != (height, width, 1):
        raise ValueError(
            f"`path` {str(path)!r} must hold images of shape ({height}, {width}) or rows of "
            f"{pixels} pixels. Received an array of shape {tuple(array.shape)}."
        )
    return array.astype("float32")
