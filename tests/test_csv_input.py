"""zoo.data.csv_input: a user's CSV column as floats, and clear errors for bad files."""

import numpy as np
import pandas as pd
import pytest

from zoo.data.csv_input import read_array, read_images, read_series, read_table
from zoo.data.series_input import read_user_series


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_series_matches_numpy_parse(tmp_path):
    path = _write(
        tmp_path, "date,value,other\n2020-01-01,1.5,a\n2020-01-02,-2e3,b\n2020-01-03, 7,c\n"
    )
    values = read_series(path, "value")
    np.testing.assert_array_equal(values, np.array([1.5, -2000.0, 7.0]))
    assert values.dtype == np.float64


def test_missing_column_lists_the_columns(tmp_path):
    path = _write(tmp_path, "date,value\n1,2\n")
    with pytest.raises(KeyError, match=r"`column`.*'price'.*'date', 'value'"):
        read_series(path, "price")


@pytest.mark.parametrize("cell", ["", "nan", "NaN", "abc", "inf"])
def test_bad_cell_names_row_and_text(tmp_path, cell):
    path = _write(tmp_path, f"value\n1\n2\n{cell}\n4\n")
    with pytest.raises(ValueError, match=r"`column` 'value'.*data row 3"):
        read_series(path, "value")


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="`path`"):
        read_series(tmp_path / "nope.csv", "value")
    with pytest.raises(ValueError, match="`path`"):
        read_series(_write(tmp_path, ""), "value")
    with pytest.raises(ValueError, match="0 rows"):
        read_series(_write(tmp_path, "value\n", "header_only.csv"), "value")


def test_read_table_and_array(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n3,4\n")
    np.testing.assert_array_equal(read_table(path), [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(read_table(path, ["b"]), [[2.0], [4.0]])
    np.testing.assert_array_equal(read_array(path, "a"), [1.0, 3.0])
    npy = tmp_path / "x.npy"
    np.save(npy, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(read_array(npy), np.arange(6.0).reshape(2, 3))
    np.save(npy, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="finite"):
        read_array(npy)


def test_read_images_from_csv_and_npy(tmp_path):
    images = np.arange(2 * 8 * 8, dtype="float64").reshape(2, 8, 8) % 17
    header = ",".join(f"p{i}" for i in range(64)) + ",label"
    rows = [",".join(str(v) for v in im.ravel()) + ",3" for im in images]
    path = _write(tmp_path, header + "\n" + "\n".join(rows) + "\n")
    np.testing.assert_array_equal(read_images(path, 8, 8), images[..., None])
    npy = tmp_path / "im.npy"
    np.save(npy, images)
    np.testing.assert_array_equal(read_images(npy, 8, 8), images[..., None])
    np.save(npy, np.zeros((2, 7, 8)))
    with pytest.raises(ValueError, match=r"shape \(8, 8\).*\(2, 7, 8\)"):
        read_images(npy, 8, 8)


def test_semicolon_files_with_decimal_commas_read_as_pandas_reads_them(tmp_path):
    # A spreadsheet in a decimal-comma locale: ';' between cells, '.' between thousands.
    rng = np.random.default_rng(5)
    values = np.round(rng.normal(0, 3000, size=30), 4)
    values[:2] = 1234.5, -98765.25
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30).strftime("%d.%m.%Y")})
    frame["y"] = values
    path = tmp_path / "eu.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    text = path.read_text()
    assert ";1234,5\n" in text and ";-98765,25\n" in text
    path.write_text(text.replace("1234,5", "1.234,5").replace("98765,25", "98.765,25"))
    expected = pd.read_csv(path, sep=";", decimal=",", thousands=".")["y"].to_numpy()
    np.testing.assert_array_equal(read_series(path, "y"), expected)
    np.testing.assert_allclose(read_series(path, "y"), values, rtol=0, atol=1e-12)
    (series,) = read_user_series(path, "y", time_column="ds")  # 13.01.2024: day first
    assert series.freq == "daily" and series.timestamps[12] == pd.Timestamp("2024-01-13")


def test_tab_files_and_one_column_files_are_read(tmp_path):
    tabbed = tmp_path / "t.tsv"
    tabbed.write_text("a\tb\n1.5\t2\n3\t4.25\n")
    np.testing.assert_array_equal(read_table(tabbed, ["a", "b"]), [[1.5, 2.0], [3.0, 4.25]])
    single = tmp_path / "one.csv"
    single.write_text("v\n1.5\n2\n")
    np.testing.assert_array_equal(read_series(single, "v"), [1.5, 2.0])
    # In a ';' file, a column that is not all decimal-comma numbers is left as written.
    mixed = tmp_path / "m.csv"
    mixed.write_text("v;w\n1,5;x\n2;y\n")
    np.testing.assert_array_equal(read_series(mixed, "v"), [1.5, 2.0])
    with pytest.raises(ValueError, match=r"`column` 'w'.*'x' at data row 1"):
        read_series(mixed, "w")


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "cp1252"]
)
def test_files_in_the_encodings_spreadsheets_save_are_read(tmp_path, encoding):
    # Excel saves "CSV" in the Windows code page (cp1252 in Western locales), "CSV UTF-8" with a
    # byte-order mark and "Unicode Text" as UTF-16 with tabs. Before, anything but UTF-8 failed
    # with Python's UnicodeDecodeError.
    path = tmp_path / "sales.csv"
    text = "Monat\tUmsatz €\n2024-01\t1.5\n2024-02\t2\n"  # tabs, as "Unicode Text"
    if not encoding.startswith("utf-16"):
        text = text.replace("\t", ";").replace("1.5", "1,5")  # a decimal-comma locale's CSV
    raw = text.encode(encoding)
    if encoding == "utf-16-be":  # with its mark, as Windows writes it
        raw = b"\xfe\xff" + raw
    path.write_bytes(raw)
    if encoding == "cp1252":
        with pytest.warns(UserWarning, match=r"not UTF-8 \(byte 0x80 at offset 13\).*Windows-1252"):
            values = read_series(path, "Umsatz €")
    else:
        values = read_series(path, "Umsatz €")
    np.testing.assert_array_equal(values, [1.5, 2.0])


def _refused(path, text: str, column: str, match: str) -> None:
    """`text` written to `path` is refused by `read_series(path, column)` with `match`."""
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_series(path, column)


def test_comment_and_blank_lines_above_the_header_are_skipped(tmp_path):
    # An export's preamble; before, its first line was taken as the header ("the columns are:
    # '# sales export'"). Rows are still counted from the header.
    path = tmp_path / "export.csv"
    path.write_text("# sales export\n  # units: EUR\n\nds;y\n2024-01;1,5\n2024-02;2\n")
    np.testing.assert_array_equal(read_series(path, "y"), [1.5, 2.0])
    bad = "# sales export\nds,y\n2024-01,1.5\n2024-02,x\n"
    _refused(path, bad, "y", r"`column` 'y'.*'x' at data row 2")
    _refused(path, "# only a comment\n\n", "y", "empty file")


def test_currency_and_percent_signs_of_a_formatted_column_are_taken_off(tmp_path):
    # A spreadsheet's currency or percent format; before, "must hold finite numbers" at row 1.
    path = tmp_path / "money.csv"
    path.write_text('v\n"$1,234.50"\n-$5.00\n$-2\n')
    np.testing.assert_array_equal(read_series(path, "v"), [1234.5, -5.0, -2.0])
    path.write_text("v;w\n1.234,50 €;12,5%\n7 €;3%\n")
    np.testing.assert_array_equal(read_table(path, ["v", "w"]), [[1234.5, 12.5], [7.0, 3.0]])
    # Two signs in one column are left as written and named; a cell without a digit (a
    # missing mark, text) is reported as written, at its own row.
    _refused(path, "v\n$1\n2 €\n", "v", r"Received '\$1' at data row 1")
    _refused(path, "v\n$1\n-\n$3\n", "v", r"Received '-' at data row 2.*missing")
    _refused(path, "v\n$1\n$abc\n", "v", r"Received '\$abc' at data row 2")


def test_blank_lines_after_the_last_row_are_not_data(tmp_path):
    # An editor's trailing newlines; a blank line between rows of a one-column file is an empty
    # value.
    single = tmp_path / "one.csv"
    single.write_text("v\n1.5\n2\n\n \n")
    np.testing.assert_array_equal(read_series(single, "v"), [1.5, 2.0])
    single.write_text("v\n1.5\n\n2\n")
    with pytest.raises(ValueError, match=r"`column` 'v'.*'' at data row 2.*missing"):
        read_series(single, "v")
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\n1,2\n3,4\n\n\n")
    np.testing.assert_array_equal(read_table(wide, ["a", "b"]), [[1.0, 2.0], [3.0, 4.0]])


def test_group_marks_and_spaced_header_names_are_read(tmp_path):
    # "1,234.5" quoted in a ',' file (a spreadsheet's thousands marks); ' y ' in the header.
    path = _write(tmp_path, 'ds, y ,z\n1,"1,234.5",2.125\n2,-7,"12,000"\n3,"1,000,000",3\n')
    expected = pd.read_csv(path, thousands=",").rename(columns=str.strip)
    np.testing.assert_array_equal(read_series(path, "y"), expected["y"].to_numpy())
    np.testing.assert_array_equal(read_series(path, "y"), [1234.5, -7.0, 1e6])
    np.testing.assert_array_equal(read_series(path, "z"), [2.125, 12000.0, 3.0])
    # In a ';' file without a decimal comma anywhere, 2.125 stays a decimal point.
    semi = _write(tmp_path, "a;b\n2.125;1\n3;2\n", "semi.csv")
    np.testing.assert_array_equal(read_series(semi, "a"), [2.125, 3.0])


@pytest.mark.parametrize(
    ("cell", "hint"),
    [("", "fill or drop missing"), ("NA", "fill or drop missing"), ("12 kg", "such as 1234.5")],
)
def test_a_bad_value_says_whether_it_is_missing_or_not_a_number(tmp_path, cell, hint):
    path = _write(tmp_path, f"ds,y\n1,2\n2,{cell}\n")
    with pytest.raises(ValueError, match=f"data row 2.*{hint}"):
        read_series(path, "y")
    with pytest.raises(ValueError, match=f"data row 2.*{hint}"):
        read_user_series(path, "y", time_column="ds")
