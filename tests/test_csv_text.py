"""Vectorised CSV text equals pandas' to_csv(float_format="%.6g") byte for byte; the CLV
exports write the same CSV as before plus a full-precision Parquet copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.report.csv_text import format_g, frame_to_csv
from helpers.studies.clv import exports


def _values() -> np.ndarray:
    rng = np.random.default_rng(5)
    edge = [0.0, -0.0, np.nan, np.inf, -np.inf, 0.5, 1.5, 2.5, 1234565.0, 1234575.0, 999999.5, 9999995.0,
            0.0001, 0.00001, 0.000099999995, 123456789.0, 1e16, 1e22, 1e23, 5e-324, 1.7976931348623157e308,
            0.000123456, 100000.0, 1e6, 999999.0, 9.9999995, 0.15, 0.25, 0.35, 1.0000005, 12345.65, -7.0,
            2.0**53, 1 / 3, 2 / 3, 1e-300, -1e-5]
    return np.concatenate([
        rng.gamma(1.0, 10.0, 20000),
        rng.normal(0, 1e-3, 5000),
        10.0 ** rng.uniform(-15, 15, 20000) * rng.choice([-1, 1], 20000),
        np.round(rng.gamma(1, 100, 5000), 2),  # cents: many decimal ties in binary
        np.round(rng.gamma(1, 100, 5000), 6) + 0.0000005,
        rng.integers(-50, 50, 5000).astype(float),
        np.array(edge),
    ])


def test_format_g_equals_python_percent_format():
    values = _values()
    expected = ["" if np.isnan(v) else "%.6g" % v for v in values]  # noqa: UP031 - the reference
    assert format_g(values).to_pylist() == expected


@pytest.mark.parametrize("n", [0, 1, 1000])
def test_frame_to_csv_equals_pandas(n):
    rng = np.random.default_rng(n)
    values = _values()
    frame = pd.DataFrame({
        "customer_id": pd.Series([f"C-{i:012x}" for i in range(n)], dtype=str),
        "a": values[:n],
        "b": values[-n:] if n else values[:0],
        "missing": np.full(n, np.nan),
        "p": rng.uniform(0, 1, n),
    })
    if n > 3:
        frame.loc[1, "customer_id"] = 'odd, "quoted" id'
        frame.loc[2, "customer_id"] = "line\nbreak"
        frame.loc[3, "customer_id"] = "中文编号"
        frame.loc[4, "customer_id"] = "carriage\rreturn"
    assert frame_to_csv(frame) == frame.to_csv(index=False, float_format="%.6g")


@pytest.mark.parametrize("n", [0, 1, 500])
def test_integers_booleans_and_dates_equal_pandas(n):
    rng = np.random.default_rng(n)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    frame = pd.DataFrame({
        "id": pd.Series([f"M{i:06d}" for i in range(n)], dtype=str),
        "days": rng.integers(-5, 10**6, n),
        "small": rng.integers(0, 9, n).astype(np.uint8),
        "lapsed": rng.random(n) < 0.3,
        "last_purchase": days,
        "x": rng.gamma(1.0, 3.0, n),
    })
    if n > 2:
        frame.loc[2, "last_purchase"] = pd.NaT
    assert frame_to_csv(frame) == frame.to_csv(index=False, float_format="%.6g")


def test_frame_to_csv_joins_rows_in_pieces_and_accepts_chunked_cells(monkeypatch):
    """Large tables are joined a piece of rows at a time (32-bit string offsets stop at 2 GB)
    and a cell may come as a chunked array (pyarrow chunks text past 2 GB): same text."""
    import pyarrow as pa

    from helpers.report import csv_text as ct

    rng = np.random.default_rng(3)
    n = 1003
    frame = pd.DataFrame({"id": pd.Series([f"C{i}" for i in range(n)], dtype=str), "x": rng.gamma(1.0, 3.0, n),
                          "lapsed": rng.random(n) < 0.5})
    expected = frame.to_csv(index=False, float_format="%.6g")
    monkeypatch.setattr(ct, "ROWS_PER_PIECE", 100)
    assert frame_to_csv(frame) == expected
    plain = ct._column_text

    def chunked(col, floats):
        cell = plain(col, floats)
        return pa.chunked_array([cell.slice(0, 250), cell.slice(250, 0), cell.slice(250)])

    monkeypatch.setattr(ct, "_column_text", chunked)
    assert frame_to_csv(frame) == expected


@pytest.mark.parametrize("float_format", ["%.6g", None])
def test_columns_of_few_distinct_values_are_formatted_once_per_value_as_pandas_writes_them(float_format, monkeypatch):
    """Counts, weeks, flags and dates hold few distinct values: each is formatted once and
    taken for every row; values are told apart by their bits (0.0 and -0.0, NaNs)."""
    from helpers.report import csv_text as ct

    rng = np.random.default_rng(8)
    n = 4 * ct.DISTINCT_SAMPLE + 3
    few = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1 / 7, 12345.65, 1234565.0, 0.000099999995, 2.5])
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame = pd.DataFrame({
        "weeks": rng.choice(few, n),
        "weeks32": rng.choice(few, n).astype(np.float32),
        "many": rng.gamma(1.0, 10.0, n),
        "count": rng.integers(-3, 40, n),
        "small": rng.integers(0, 9, n).astype(np.uint8),
        "lapsed": rng.random(n) < 0.3,
        "last_purchase": days.where(rng.random(n) > 0.01),
    })
    if float_format is None:
        frame = frame.drop(columns="weeks32")  # float32 without a format: pandas writes it
    formatted = []
    cells = ct._cells
    monkeypatch.setattr(ct, "_cells", lambda col, floats: formatted.append(len(col)) or cells(col, floats))
    assert frame_to_csv(frame, float_format) == frame.to_csv(index=False, float_format=float_format)
    distinct = {"weeks": 10, "weeks32": 10, "many": n, "count": 43, "small": 9, "lapsed": 2, "last_purchase": 701}
    assert sorted(formatted) == sorted(distinct[c] for c in frame.columns)  # "many": every row
    timed = frame.assign(last_purchase=days + pd.to_timedelta(rng.integers(0, 2, n), unit="h"))
    assert ct.csv_rows(timed, float_format) is None  # a time of day: pandas' own format, as before
    assert frame_to_csv(timed, float_format) == timed.to_csv(index=False, float_format=float_format)


def test_text_columns_of_few_distinct_values_are_quoted_once_per_value_as_pandas_writes_them(monkeypatch):
    """Segment names and tiers: each distinct text (quotes, commas, line ends and missing
    values included) is quoted once; a column of many distinct texts is quoted cell by cell."""
    from helpers.report import csv_text as ct

    rng = np.random.default_rng(3)
    n = 4 * ct.DISTINCT_SAMPLE + 5
    few = np.array(["champions", "at risk, soon", 'say "hi"', "two\nlines", "", "会员", None], dtype=object)
    frame = pd.DataFrame({
        "segment": pd.Series(rng.choice(few, n), dtype="str"),
        "id": pd.Series([f"C{i:07d}" for i in rng.permutation(n)], dtype="str"),
        "n": rng.integers(0, 5, n),
    })
    quoted = []
    real = ct._quoted
    monkeypatch.setattr(ct, "_quoted", lambda values: quoted.append(len(values)) or real(values))
    assert frame_to_csv(frame, None) == frame.to_csv(index=False)
    assert len(few) - 1 in quoted  # the six texts once each (missing values are written as "")
    assert n in quoted and not any(len(few) < q < n for q in quoted)  # the ids: every cell; no other column
    pieces = pd.concat([frame.iloc[: n // 2], frame.iloc[n // 2:]], ignore_index=True)  # text in two Arrow chunks
    assert frame_to_csv(pieces, None) == frame.to_csv(index=False)


def test_frame_to_csv_leaves_other_types_to_pandas():
    frame = pd.DataFrame({"id": ["a", "b"], "n": pd.array([1, None], dtype="Int64"), "x": [0.1234567, 2.0],
                          "when": pd.to_datetime(["2024-01-01 10:30", "2024-01-02 00:00"])})
    assert frame_to_csv(frame) == frame.to_csv(index=False, float_format="%.6g")
    with_time = frame[["id", "x", "when"]]
    assert frame_to_csv(with_time) == with_time.to_csv(index=False, float_format="%.6g")


def _activation_like(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n + 11)
    values = _values()
    frame = pd.DataFrame({
        "customer_id": pd.Series([f"C-{i:012x}" for i in range(n)], dtype=str),
        "segment": rng.choice(["champions", "at_risk", "=sum(a1)"], n),
        "score": rng.integers(1, 6, n),
        "days": rng.integers(-5, 10**6, n).astype("int64"),
        "revenue": np.round(rng.choice(values, n), 2),
        "p_alive": np.round(rng.uniform(0, 1, n), 4),
        "any": rng.choice(values, n),
        "next": pd.Series(rng.choice(["tops", "shoes", None], n), dtype=object),
    })
    if n > 3:
        frame.loc[1, "customer_id"] = 'odd, "quoted" id'
        frame.loc[2, "customer_id"] = "line\nbreak"
        frame.loc[3, "next"] = "中文, 品类"
    return frame


@pytest.mark.parametrize("n", [0, 1, 1000])
@pytest.mark.parametrize("float_format", ["%.6g", None])
def test_frame_to_csv_with_integers_and_without_a_float_format_equals_pandas(n, float_format):
    frame = _activation_like(n)
    assert frame_to_csv(frame, float_format) == frame.to_csv(index=False, float_format=float_format)
    one = frame[["any"]]  # a lone column: pandas quotes an empty field, so pandas writes it
    assert frame_to_csv(one, float_format) == one.to_csv(index=False, float_format=float_format)


def _joined(parts) -> str:
    return b"".join(bytes(p) for p in parts).decode("utf-8")


def test_csv_bytes_by_key_are_the_csv_of_each_keys_rows():
    """The activation lists: every row formatted once, split by segment (also the formula-safe text)."""
    from helpers.report.exports import csv_bytes_by, csv_text

    frame = _activation_like(1000)
    keys = ["champions", "=sum(a1)", "nobody"]
    everyone, by_key = csv_bytes_by(frame, "segment", keys)
    assert _joined(everyone) == csv_text(frame) == exports_reference(frame)
    texts = {key: _joined(by_key[key]) for key in keys}
    for key in keys:
        assert texts[key] == exports_reference(frame[frame["segment"] == key])
    assert texts["nobody"].count("\n") == 1 and "'=sum(a1)" in texts["=sum(a1)"]
    mixed = frame.assign(when=pd.Timestamp("2024-01-01 10:30"))  # a time of day: left to pandas
    everyone, by_key = csv_bytes_by(mixed, "segment", keys)
    assert _joined(by_key["champions"]) == exports_reference(mixed[mixed["segment"] == "champions"])
    assert _joined(everyone) == exports_reference(mixed)


def test_csv_bytes_by_key_across_pieces_of_rows(monkeypatch):
    """Rows joined in several pieces (10M customers): the bytes of every piece, in order."""
    from helpers.report import csv_text as ct
    from helpers.report.exports import csv_bytes_by

    monkeypatch.setattr(ct, "ROWS_PER_PIECE", 300)
    frame = _activation_like(1000)
    everyone, by_key = csv_bytes_by(frame, "segment", ["champions"])
    assert len(everyone) == 1 + 4  # the header, then 4 pieces of rows
    assert _joined(everyone) == exports_reference(frame)
    assert _joined(by_key["champions"]) == exports_reference(frame[frame["segment"] == "champions"])


def test_write_bytes_atomic_writes_the_parts_in_order(tmp_path):
    from helpers.files import write_bytes_atomic

    path = write_bytes_atomic(tmp_path / "a" / "out.csv", [b"x,y\n", memoryview(b"1,2\n3,4\n")[4:], b""])
    assert path.read_bytes() == b"x,y\n3,4\n"
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temporary file left


def exports_reference(frame: pd.DataFrame) -> str:
    """What csv_text wrote before: pandas' to_csv of the formula-safe copy."""
    from helpers.report.exports import neutralise_formulas

    return neutralise_formulas(frame).to_csv(index=False)


def test_write_outputs_csv_as_before_and_parquet_at_full_precision(tmp_path):
    rng = np.random.default_rng(9)
    n = 500
    table = pd.DataFrame(
        {c: rng.gamma(1.0, 10.0, n) for c in exports.EXPORT_COLUMNS},
        index=pd.Index([f"M{i:06d}" for i in range(n)], name="customer_id"),
    )
    table["p_alive"] = rng.uniform(0, 1, n) ** 8  # tiny values: scientific notation
    paths = exports.write_outputs(tmp_path, table, {"customers": n}, id_key="k")
    expected = exports.export_table(table, id_key="k")
    assert paths["csv"].read_text(encoding="utf-8") == expected.to_csv(index=False, float_format="%.6g")
    back = pd.read_parquet(paths["parquet"])
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()  # pseudonymised, as the CSV
    assert not list(tmp_path.glob(".*.tmp"))


def test_format_repr_equals_numpys_shortest_text():
    """Rounded values spelled from integers, all others by numpy: the same text as numpy's
    shortest round-trip conversion (what to_csv writes without a float_format)."""
    from helpers.report.csv_text import format_repr

    rng = np.random.default_rng(11)
    parts = [np.round(rng.gamma(1.0, 300.0, 5000) * rng.choice([-1, 1], 5000), places) for places in range(9)]
    parts += [
        rng.normal(0, 1, 2000), 10.0 ** rng.uniform(-8, 17, 2000), np.round(10.0 ** rng.uniform(5, 12, 2000), 2),
        np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-4, -1e-4, 9.99999e-5, 1e-5, 5e-324, 0.1 + 0.2, 1.0, -1.0,
                  100.0, 1e15, 999999999.999999, 123456789.123456, -0.5, 2.675, 1e16, 0.000123]),
    ]
    values = np.concatenate(parts)
    expected = values.astype(np.dtypes.StringDType())
    expected[np.isnan(values)] = ""
    assert format_repr(values).to_pylist() == expected.tolist()
    assert format_repr(np.array([])).to_pylist() == []


@pytest.mark.parametrize("case", ["numbers", "time_of_day_late", "mixed_text_late", "empty", "no_float_format"])
def test_write_csv_atomic_in_blocks_writes_csv_text(case, tmp_path, monkeypatch):
    """Blocks of rows formatted on their own give the bytes of the whole text, also where a
    column's text depends on rows of a later block (then the whole text is written)."""
    from helpers.report import exports as report_exports

    monkeypatch.setattr(report_exports, "CSV_BLOCK_ROWS", 1000)
    n = 3500
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({
        "customer_id": [f"=id,{i}" if i % 97 == 0 else f"C{i:05d}" for i in range(n)],
        "value": rng.gamma(1.0, 10.0, n), "count": rng.integers(0, 9, n), "flag": rng.random(n) > 0.5,
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
    })
    float_format = "%.6g"
    if case == "time_of_day_late":
        frame.loc[n - 5, "day"] = pd.Timestamp("2024-03-01 10:30")  # in the last block only
    elif case == "mixed_text_late":
        frame["customer_id"] = frame["customer_id"].astype(object)
        frame.loc[n - 5, "customer_id"] = 12345  # a number among text, in the last block only
    elif case == "empty":
        frame = frame.iloc[:0]
    elif case == "no_float_format":
        float_format = None
    path = report_exports.write_csv_atomic(tmp_path / "out.csv", frame, float_format=float_format)
    assert path.read_bytes() == report_exports.csv_text(frame, float_format=float_format).encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left
