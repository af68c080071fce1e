"""The loader's vectorised routes (issue 17) give exactly what the general route gives:
same frame, same report, and for bad data the same one-line error naming the row and value.

Every case is loaded twice: as shipped, and with the fast routes switched off (plain ISO
timestamps, plain numbers, the RE2 pre-filter of UTC offsets), which is the loader as it
was before them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.data import columns as C
from helpers.data import loading
from helpers.data.loading import read_transactions, transactions_from_frame
from helpers.errors import DataError
from helpers.models import engines


def _general_only(monkeypatch) -> None:
    monkeypatch.setattr(loading, "_arrow_text", lambda s: None)  # every pyarrow shortcut
    monkeypatch.setattr(loading, "_offset_candidates", lambda text: np.ones(len(text), dtype=bool))
    monkeypatch.setattr(loading, "_sorted_by", lambda keys, stamps: False)
    monkeypatch.setattr(loading, "_count_duplicates",
                        lambda out, order: int(out.drop(columns=C.CUSTOMER_ID).duplicated().sum()))


def _outcome(load):
    try:
        return load()
    except DataError as exc:
        return str(exc)


def _same(load, monkeypatch):
    """``load()`` with the fast routes equals ``load()`` without them; returns the former."""
    fast = _outcome(load)
    with monkeypatch.context() as m:
        _general_only(m)
        general = _outcome(load)
    if isinstance(general, str):
        assert fast == general
    else:
        assert not isinstance(fast, str), fast
        pd.testing.assert_frame_equal(fast.transactions, general.transactions)
        assert fast.report == general.report
    return fast


def _frame(stamps, amounts=None, dtype="str", ids=None) -> pd.DataFrame:
    n = len(stamps)
    amounts = amounts if amounts is not None else [f"{(i * 37) % 500 + 0.25:.2f}" for i in range(n)]
    ids = ids if ids is not None else [f"c{i % 7}" for i in range(n)]
    return pd.DataFrame({
        "customer_id": pd.Series(ids, dtype=dtype),
        "timestamp": pd.Series(stamps, dtype=dtype),
        "amount": pd.Series(amounts, dtype=dtype),
    })


BASE = [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}" for i in range(3000)]


@pytest.mark.parametrize("dtype", ["str", object])
@pytest.mark.parametrize(
    "stamps",
    [
        BASE,
        [s[:10] for s in BASE],  # dates only
        [s[:16] for s in BASE],  # minutes
        [s.replace(" ", "T") + ".123456" for s in BASE],  # T and microseconds
        [s + ".5" if i % 3 else s[:10] for i, s in enumerate(BASE)],  # mixed ISO shapes
        [s + ".123456789" for s in BASE],  # nanoseconds: the general route
        [s if i % 2 else s.replace("-", "/") for i, s in enumerate(BASE)],  # mixed formats
        [s if i != 2500 else f" {s} " for i, s in enumerate(BASE)],  # one padded value
        [s[:10].replace("-", "") for s in BASE],  # 20240105
    ],
    ids=["iso", "dates", "minutes", "t-micro", "mixed-iso", "nanos", "mixed-formats", "padded", "yyyymmdd"],
)
def test_timestamps_equal_the_general_route(monkeypatch, stamps, dtype):
    _same(lambda: transactions_from_frame(_frame(stamps, dtype=dtype)), monkeypatch)


@pytest.mark.parametrize(
    "bad, shown",
    [("2023-02-29 10:00:00", "2023-02-29 10:00:00"), ("2024-01-05 24:00:00", "2024-01-05 24:00:00"),
     ("soon", "soon"), ("", "")],
)
def test_a_late_bad_date_names_its_row_and_value(monkeypatch, bad, shown):
    stamps = list(BASE)
    stamps[2900] = bad
    message = _same(lambda: transactions_from_frame(_frame(stamps), source="shop.csv"), monkeypatch)
    assert isinstance(message, str) and "2902" in message and "timestamp" in message
    if shown:
        assert repr(shown) in message or shown in message


def test_a_bad_date_in_a_file_names_its_row(tmp_path, monkeypatch):
    lines = ["customer_id,timestamp,amount"] + [f"c{i % 5},{s},1.5" for i, s in enumerate(BASE)]
    lines[2000] = "c1,2024-13-01 10:00:00,1.5"
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    message = _same(lambda: engines.load_transactions(path), monkeypatch)
    assert isinstance(message, str) and "row 2001: '2024-13-01 10:00:00'" in message  # line 2001 of the file
    assert "shop.csv" in message and "'timestamp'" in message and len(message.splitlines()) == 1


def test_only_some_timestamps_carry_offsets(monkeypatch):
    stamps = [s.replace(" ", "T") + ("+08:00" if i % 3 == 0 else "Z" if i % 11 == 0 else "") for i, s in enumerate(BASE)]
    result = _same(lambda: transactions_from_frame(_frame(stamps)), monkeypatch)
    assert result.report.adjusted  # the Z rows were moved to +08:00
    late = list(BASE)
    late[2999] = late[2999] + " -05:00"
    result = _same(lambda: transactions_from_frame(_frame(late), timezone="+08:00"), monkeypatch)
    assert "-05:00: 1 rows" in result.report.adjusted[0].reason


def test_offsets_in_unicode_digits_and_lower_case(monkeypatch):
    stamps = [s + (" utc" if i % 2 else "+０８:００") for i, s in enumerate(BASE[:50])]
    _same(lambda: transactions_from_frame(_frame(stamps)), monkeypatch)


@pytest.mark.parametrize(
    "amounts",
    [
        ["12", "-3.5", "+4", "0.10", ".5", "7.", "1234567.891", "-0"] * 100,
        ["12", "¥3.50", "(4.00)", "1,280.00"] * 100,  # the general route's shapes
        ["12", "1e3", "inf", "nan"] * 100,
        ["12", "3.5", " 4 ", ""] * 100,
        ["12", "3.5", "1" * 400, "4"] * 100,  # overflows to infinity
        ["12"] * 399 + ["12,5x"],
    ],
)
def test_amounts_equal_the_general_route(monkeypatch, amounts):
    _same(lambda: transactions_from_frame(_frame(BASE[: len(amounts)], amounts)), monkeypatch)


def test_random_decimal_amounts_parse_to_the_same_doubles(monkeypatch):
    rng = np.random.default_rng(3)
    values = [f"{v:.{d}f}" for v, d in zip(rng.random(3000) * 10 ** rng.integers(0, 9, 3000), rng.integers(0, 9, 3000))]
    fast = loading._plain_numbers(pd.Series(values))
    general = loading._parse_number_strings(pd.Series(values, dtype=object))
    np.testing.assert_array_equal(fast.to_numpy(), general.to_numpy())


def test_quoted_header_file_goes_through_pyarrow_with_the_same_result(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('"customer_id","timestamp","amount"\nM1,2024-04-17 16:10:30.000000,39.25\n'
                    'M0,2024-04-18 10:00:00.000000,1.00\n')
    ours = engines.load_transactions(path)
    theirs = read_transactions(path)
    pd.testing.assert_frame_equal(ours.transactions, theirs.transactions)
    assert ours.report == theirs.report


SORTED_IDS = [f"c{i // 10:04d}" for i in range(len(BASE))]


@pytest.mark.parametrize("dtype", ["str", object])
@pytest.mark.parametrize(
    "ids, stamps",
    [
        (SORTED_IDS, sorted(BASE[:5] * 2) * 300),  # sorted by customer and time
        (SORTED_IDS, BASE),  # sorted by customer only
        (SORTED_IDS[::-1], BASE),  # customers in reverse order
        ([" c1", "c1", "c2 ", "甲", "c10"] * 600, BASE),  # ids to strip, non-ASCII
        (SORTED_IDS, [BASE[0]] * 3000),  # one timestamp: duplicates are decided by the amount
    ],
    ids=["sorted", "ids-sorted", "reverse", "strip", "one-time"],
)
def test_ids_order_and_duplicates_equal_the_general_route(monkeypatch, ids, stamps, dtype):
    amounts = [f"{(i * 7) % 5}.00" for i in range(len(stamps))]
    result = _same(lambda: transactions_from_frame(_frame(stamps, amounts, dtype=dtype, ids=ids)), monkeypatch)
    if len(set(stamps)) == 1:
        assert result.report.duplicate_rows == 3000 - 300 * 5


def test_blank_rows_and_blank_cells(monkeypatch):
    frame = _frame(BASE[:100], ids=[f"c{i % 3}" for i in range(100)])
    frame.iloc[40] = ["", " ", "\u3000"]  # a blank row (ideographic space)
    _same(lambda: transactions_from_frame(frame), monkeypatch)
    frame.iloc[41, 0] = "  "
    message = _same(lambda: transactions_from_frame(frame, source="shop.csv"), monkeypatch)
    assert "customer ids are missing" in message and "43" in message


def _file(tmp_path, stamps, amounts, header="customer_id,timestamp,amount,quantity"):
    lines = [header] + [f"c{i // 4:04d},{s},{a},{i % 3}" for i, (s, a) in enumerate(zip(stamps, amounts))]
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "change, problem",
    [
        ({}, None),
        ({2990: ("2024-02-30 10:00:00", "1.5")}, "row 2992: '2024-02-30 10:00:00'"),
        ({2990: ("2024-01-05 10:00:00+08:00", "1.5")}, None),  # one offset: the text route
        ({2990: (BASE[2990], "\"¥1,280.00\"")}, None),  # the general number parser
        ({2990: (BASE[2990], "12.5x")}, "row 2992: '12.5x'"),
        ({2990: (BASE[2990], "")}, "amount values are missing"),
    ],
)
def test_typed_reading_equals_the_general_reader(tmp_path, monkeypatch, change, problem):
    stamps, amounts = list(BASE), [f"{i % 50}.25" for i in range(len(BASE))]
    for i, (s, a) in change.items():
        stamps[i], amounts[i] = s, a
    path = _file(tmp_path, stamps, amounts)
    ours = _outcome(lambda: engines.load_transactions(path, engine="pandas"))
    theirs = _outcome(lambda: read_transactions(path))
    if problem:
        assert isinstance(ours, str) and ours == theirs and problem in ours, ours
    else:
        pd.testing.assert_frame_equal(ours.transactions, theirs.transactions)
        assert ours.report == theirs.report and ours.columns == theirs.columns


def test_plain_columns_are_read_typed(tmp_path):
    from helpers.data import arrow_csv

    path = _file(tmp_path, BASE, [f"{i % 50}.25" for i in range(len(BASE))])
    read = arrow_csv.read_mapped_columns(path, parse=True)
    assert [str(t) for t in read.frame.dtypes] == ["str", "datetime64[us]", "float64", "float64"]
    assert arrow_csv.read_mapped_columns(path).frame["amount"].dtype == "str"


@pytest.mark.parametrize("seed", range(6))
def test_outlier_limit_equals_the_median_over_every_row(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    amounts = np.round(np.exp(rng.normal(3, 1.5, n)), int(rng.integers(0, 3))) * rng.choice([-1, 1, 0], n)
    amounts[rng.random(n) < 0.05] = np.nan
    x = np.abs(amounts)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) == 0:
        expected = loading.ABSOLUTE_AMOUNT_LIMIT
    else:
        logs = np.log10(x)
        centre = float(np.median(logs))
        spread = max(1.4826 * float(np.median(np.abs(logs - centre))), loading.MIN_LOG_SPREAD)
        expected = float(min(10 ** min(centre + loading.OUTLIER_SIGMAS * spread, 300.0), loading.ABSOLUTE_AMOUNT_LIMIT))
    assert loading.implausible_amount_limit(amounts) == expected


def test_duplicates_with_text_and_missing_optional_columns(monkeypatch):
    frame = _frame([BASE[0]] * 600, ["1.00", "2.00"] * 300, ids=[f"c{i % 4}" for i in range(600)])
    frame["channel"] = pd.Series(["web", None, "store"] * 200, dtype="str")
    frame["quantity"] = pd.Series(["1", "", "2", "3"] * 150, dtype="str")
    _same(lambda: transactions_from_frame(frame), monkeypatch)


@pytest.mark.parametrize(
    "values, expected",
    [(["a", "b c", "x!"], True), (["a", ""], False), (["a", " a"], False), (["a", "a\u3000"], False),
     (["甲"], False), (["a", None], False)],
)
def test_visible_ends(values, expected):
    import pyarrow as pa

    arr = pa.array(values, type=pa.large_string())
    assert loading._visible_ends(arr) is expected
    assert loading._visible_ends(pa.chunked_array([arr.slice(0, 1), arr.slice(1)])) is expected


@pytest.mark.parametrize("kind", ["string", "large_string"])
def test_iso_timestamp_shapes_judge_as_the_regular_expression(kind):
    """Columns of one width are checked byte by byte against their one shape: the verdict is
    the regular expression's, for every shape, any byte changed, years at the edges, sliced
    and chunked arrays, mixed widths (the expression itself)."""
    import pyarrow as pa

    rng = np.random.default_rng(3)
    base = ["2024-03-05", "1999-12-31 23:59", "2024-03-05T10:20:30",
            *(f"2024-03-05 10:20:30.{'123456'[:k]}" for k in range(1, 7))]
    swaps = list("0123456789-: T.xZ/\n+") + ["é"]
    cases = [[v] * 5 for v in base] + [["1700-01-01"] * 3, ["2199-12-31"] * 3, ["1699-12-31"] * 3,
                                       ["2200-01-01"] * 3, ["0000-01-01"] * 3, base[:2], [""] * 2]
    for v in base:
        for _ in range(60):  # one position of one value replaced by one character
            i, c = int(rng.integers(len(v))), swaps[int(rng.integers(len(swaps)))]
            cases.append([v, v[:i] + c + v[i + 1:], v])
    typ = getattr(pa, kind)()
    for values in cases:
        arr = pa.array(["pad"] + values, type=typ).slice(1)
        expected = loading._all_match(arr, loading._ISO_TIMESTAMP)
        assert loading._all_iso_timestamps(arr) is expected, values
        chunked = pa.chunked_array([arr.slice(0, 1), arr.slice(1)], type=typ)
        assert loading._all_iso_timestamps(chunked) is expected, values
    assert any(loading._all_iso_timestamps(pa.array(v, type=typ)) for v in cases)
    assert not all(loading._all_iso_timestamps(pa.array(v, type=typ)) for v in cases)
