"""Loaders for the tags study: behaviour events, birthdays, and discount/promotion columns
of the transaction loader; Chinese and English headers, one-line errors naming file,
column, row and value."""

import pandas as pd
import pytest

from helpers.data.events import birthdays_from_frame, events_from_frame, read_events
from helpers.data.loading import transactions_from_frame
from helpers.errors import DataError


def test_events_with_chinese_headers_and_names():
    raw = pd.DataFrame({
        "会员编号": ["M1", "M1", "M2", "M2"],
        "行为时间": ["2024-01-05 10:00", "2024/1/6", "2024年1月7日", "2024-02-01"],
        "行为类型": ["浏览", "加购", "领券", "到店"],
        "品类": ["美妆", "美妆", "", ""],
        "手机号": ["13900000000"] * 4,
    })
    loaded = events_from_frame(raw, source="events.csv", observation_end="2024-01-31")
    t = loaded.table
    assert list(t.columns) == ["customer_id", "timestamp", "event_type", "category"]
    assert t["event_type"].tolist() == ["view", "add_to_cart", "coupon_claim"]  # the February row is dropped
    assert loaded.report.dropped[0].count == 1 and "手机号" in loaded.report.ignored_columns


def test_unknown_event_type_names_file_column_row_and_value():
    raw = pd.DataFrame({"customer_id": ["M1", "M2"], "time": ["2024-01-01", "2024-01-02"], "action": ["view", "teleport"]})
    with pytest.raises(DataError) as err:
        events_from_frame(raw, source="events.csv")
    message = str(err.value)
    assert "events.csv" in message and "action" in message and "3" in message and "teleport" in message
    ok = events_from_frame(raw, source="events.csv", extra_event_types=("teleport",))
    assert ok.table["event_type"].tolist() == ["view", "teleport"]


def test_missing_events_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="behaviour events file was not found"):
        read_events(tmp_path / "nope.csv")


def test_birthdays_month_day_or_date_of_birth():
    by_parts = birthdays_from_frame(pd.DataFrame({"会员编号": ["A", "B", "C"], "生日月份": [2, 12, None],
                                                  "生日日": [29, 31, None]}), source="b.csv").table
    assert by_parts["birth_month"].tolist()[:2] == [2, 12] and pd.isna(by_parts["birth_month"].iloc[2])
    by_date = birthdays_from_frame(pd.DataFrame({"customer_id": ["A"], "出生日期": ["1990-07-15"]}), source="b.csv").table
    assert (by_date["birth_month"].iloc[0], by_date["birth_day"].iloc[0]) == (7, 15)
    assert "birth_date" not in by_date  # the year never enters the pipeline


@pytest.mark.parametrize("month, day, problem", [(13, 1, "birth month values are impossible"),
                                                 (4, 31, "birthdays are not real dates")])
def test_impossible_birthdays(month, day, problem):
    raw = pd.DataFrame({"customer_id": ["A", "B"], "birth_month": [1, month], "birth_day": [1, day]})
    with pytest.raises(DataError) as err:
        birthdays_from_frame(raw, source="b.csv")
    assert problem in str(err.value) and "b.csv" in str(err.value) and "3" in str(err.value)


def test_transactions_keep_discount_and_promotion_columns():
    raw = pd.DataFrame({"会员编号": ["A", "B"], "下单时间": ["2024-01-01", "2024-01-02"], "实付金额": ["100", "50"],
                        "优惠金额": ["10", "0"], "促销类型": ["双11", ""]})
    t = transactions_from_frame(raw, source="tx.csv").transactions
    assert t["discount"].tolist() == [10.0, 0.0]
    assert t["promotion"].iloc[0] == "双11" and pd.isna(t["promotion"].iloc[1])


def test_a_discount_that_is_not_a_number_names_the_row():
    raw = pd.DataFrame({"customer_id": ["A", "B"], "date": ["2024-01-01", "2024-01-02"], "amount": [1, 2],
                        "discount": ["5", "lots"]})
    with pytest.raises(DataError) as err:
        transactions_from_frame(raw, source="tx.csv")
    assert "discount" in str(err.value) and "lots" in str(err.value) and "3" in str(err.value)


def test_a_folder_without_events_gets_them_generated_once(tmp_path):
    from helpers.data.generator import GeneratorConfig, generate, write
    from helpers.studies.tags.inputs import load_tag_tables

    write(generate(GeneratorConfig(n_customers=150, seed=4)), tmp_path / "core", "csv")
    cache = tmp_path / "cache"
    first = load_tag_tables(str(tmp_path / "core"), observation_end="2024-12-31", cache_dir=str(cache))
    assert first.generated and first.events is not None and "promotion" in first.transactions.transactions
    assert first.customers_frame()["birth_month"].notna().any()
    second = load_tag_tables(str(tmp_path / "core"), observation_end="2024-12-31", cache_dir=str(cache))
    assert second.folder == first.folder and len(list(cache.iterdir())) == 1  # cached, keyed by the core files
    with pytest.raises(DataError, match="needs a data folder"):
        load_tag_tables(str(tmp_path / "missing"), observation_end="2024-12-31", cache_dir=str(cache))


def test_two_runs_generating_the_events_at_once_both_succeed(tmp_path, monkeypatch):
    """The en and zh-CN pages of a build may generate the same folder at the same time: the one
    that finishes second keeps the first one's folder and leaves no temporary folder behind."""
    import helpers.studies.tags.inputs as inputs
    from helpers.data.generator import GeneratorConfig, generate, write

    write(generate(GeneratorConfig(n_customers=150, seed=4)), tmp_path / "core", "csv")
    cache = tmp_path / "cache"
    real_write = inputs.write_tag_tables
    done_first = {}

    def write_while_another_run_finishes(data, folder, fmt, **kwargs):
        paths = real_write(data, folder, fmt, **kwargs)
        if not done_first:  # the other run writes its complete folder in the meantime
            done_first["folder"] = None
            done_first["folder"] = inputs.generated_folder(tmp_path / "core", cache, "2024-12-31")
        return paths

    monkeypatch.setattr(inputs, "write_tag_tables", write_while_another_run_finishes)
    ours = inputs.generated_folder(tmp_path / "core", cache, "2024-12-31")
    assert ours == done_first["folder"] and (ours / "truth_tags.json").exists()
    assert [p.name for p in cache.iterdir()] == [ours.name]  # no temporary folder left


def test_generated_events_are_cached_as_parquet_and_load_as_the_csv_would(tmp_path):
    """The generated events are written as Parquet (the CSV took most of a cold build's tags
    page); the loaded events table and its report are those of the same events in a CSV."""
    from helpers.data.generator import GeneratorConfig, generate, write
    from helpers.studies.tags.inputs import load_tag_tables

    write(generate(GeneratorConfig(n_customers=300, seed=5)), tmp_path / "core", "csv")
    tables = load_tag_tables(str(tmp_path / "core"), observation_end="2024-12-31", cache_dir=str(tmp_path / "cache"))
    parquet = tmp_path / "cache" / tables.folder.split("/")[-1] / "behaviour_events.parquet"
    assert tables.sources()["behaviour_events"] == str(parquet)
    as_csv = tmp_path / "behaviour_events.csv"
    pd.read_parquet(parquet).to_csv(as_csv, index=False)
    from_csv = read_events(as_csv, observation_end="2024-12-31")
    assert len(tables.events.table) > 100
    pd.testing.assert_frame_equal(tables.events.table, from_csv.table)
    assert tables.events.report.to_dict() == from_csv.report.to_dict()


def test_generated_transactions_are_cached_as_parquet_and_load_as_the_csv_would(tmp_path):
    from helpers.data import tables_io
    from helpers.data.generator import GeneratorConfig, generate, write
    from helpers.data.generator.tags import TagDataConfig, simulate_tag_data, write_tag_tables

    core = generate(GeneratorConfig(n_customers=300, seed=5))
    write(core, tmp_path / "core", "csv")
    customers = pd.read_csv(tmp_path / "core" / "customers.csv", parse_dates=["join_date"])
    transactions = pd.read_csv(tmp_path / "core" / "transactions.csv", parse_dates=["timestamp"])
    data = simulate_tag_data(customers, transactions, end="2024-12-31", config=TagDataConfig(seed=14))
    data.tables["transactions"].loc[0, "amount"] += 1e-9  # a value off the cent: both formats keep cents
    write_tag_tables(data, tmp_path / "csv", "csv")
    write_tag_tables(data, tmp_path / "pq", "csv", parquet=("transactions",))
    loads = [tables_io.load_transactions(str(path), None, notebook="tags", observation_end="2024-12-31",
                                         returns_policy="drop")
             for path in (tmp_path / "csv" / "transactions.csv", tmp_path / "pq" / "transactions.parquet")]
    assert len(loads[0].transactions) > 100
    pd.testing.assert_frame_equal(loads[0].transactions, loads[1].transactions, check_exact=True)
    assert loads[0].report.to_dict() == loads[1].report.to_dict()


def test_a_cache_folder_of_the_older_csv_layout_is_generated_again_as_parquet(tmp_path):
    """A folder cached before the events were stored as Parquet has the same inputs; keyed only by
    them it would be read as CSV on every later run (the slow read the Parquet cache removed)."""
    import hashlib
    import json

    from helpers.data.generator import GeneratorConfig, generate, write
    from helpers.data.generator.tags import TAGS_EXTENSION_VERSION, TagDataConfig
    from helpers.studies.tags.inputs import load_tag_tables

    write(generate(GeneratorConfig(n_customers=150, seed=4)), tmp_path / "core", "csv")
    digest = hashlib.sha256()  # the key as it was computed when the folder held CSV files
    for name in ("transactions.csv", "customers.csv"):
        digest.update((tmp_path / "core" / name).read_bytes())
    digest.update(json.dumps([TagDataConfig(seed=14).to_dict(), "2024-12-31", TAGS_EXTENSION_VERSION],
                             sort_keys=True).encode())
    stale = tmp_path / "cache" / digest.hexdigest()[:16]
    stale.mkdir(parents=True)
    (stale / "truth_tags.json").write_text("{}")
    (stale / "behaviour_events.csv").write_text("customer_id,timestamp,event_type\n")
    tables = load_tag_tables(str(tmp_path / "core"), observation_end="2024-12-31", cache_dir=str(tmp_path / "cache"))
    assert tables.folder != str(stale)
    assert tables.sources()["behaviour_events"].endswith("behaviour_events.parquet") and len(tables.events.table) > 0
