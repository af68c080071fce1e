"""Loading customers and service tickets: aliases, column maps, validation messages."""

import html
import os

import numpy as np
import pandas as pd
import pytest

from helpers.data import tables_io as io
from helpers.errors import ConfigError, DataError

TICKET_ROWS = [
    # 工单号, 会员编号, 订单号, 创建时间, 首次响应时间, 解决时间, 渠道, 问题类型, 严重程度, 满意度, 手机号
    ["T1", "M001", "O1", "2024-03-01 10:00", "2024-03-01 11:30", "2024-03-02 09:00", "hotline", "damaged_parcel", "ordinary", "5", "13800138000"],
    ["T2", "M002", "O2", "2024/3/2 8:00", "", "", "wechat", "late_delivery", "complex", "", "13900139000"],
    ["T3", "M001", "O3", "2024年3月5日 14:00", "2024-03-05 14:10", "2024-03-08 14:00", "web_chat", "refund", "major", "2", "13700137000"],
]
TICKET_HEADERS = ["工单号", "会员编号", "订单号", "创建时间", "首次响应时间", "解决时间", "渠道", "问题类型", "严重程度", "满意度", "手机号"]


def write_csv(path, headers, rows, encoding="utf-8"):
    pd.DataFrame(rows, columns=headers).to_csv(path, index=False, encoding=encoding)
    return path


def test_gbk_ticket_export_with_chinese_headers_is_read_through_aliases(tmp_path):
    path = write_csv(tmp_path / "工单.csv", TICKET_HEADERS, TICKET_ROWS, encoding="gbk")
    loaded = io.read_tickets(path)
    t = loaded.table
    assert loaded.encoding == "gb18030"
    assert set(t.columns) == {"customer_id", "ticket_id", "order_id", "opened_at", "first_response_at", "resolved_at",
                              "channel", "issue_type", "severity_tier", "satisfaction"}
    assert "手机号" in loaded.report.ignored_columns  # never read into the table
    assert not t.astype(str).apply(lambda c: c.str.contains("138001")).any().any()
    by_id = t.set_index("ticket_id")
    assert by_id.loc["T2", "opened_at"] == pd.Timestamp("2024-03-02 08:00")
    assert by_id.loc["T3", "opened_at"] == pd.Timestamp("2024-03-05 14:00")
    assert pd.isna(by_id.loc["T2", "first_response_at"]) and pd.isna(by_id.loc["T2", "resolved_at"])
    assert by_id.loc["T1", "satisfaction"] == 5.0 and pd.isna(by_id.loc["T2", "satisfaction"])
    notes = dict(loaded.notes)
    assert notes["no first response yet (open)"] == 1 and notes["not resolved yet (open)"] == 1


def test_column_map_names_headers_the_aliases_do_not_know(tmp_path):
    rows = [["A1", "2024-01-05", "2024-01-05 02:00"], ["A2", "2024-01-06", "2024-01-07"]]
    path = write_csv(tmp_path / "t.csv", ["VIP", "开工单", "第一次回复"], rows)
    loaded = io.read_tickets(path, {"customer_id": "VIP", "opened_at": "开工单", "first_response_at": "第一次回复"})
    assert loaded.columns == {"customer_id": "VIP", "opened_at": "开工单", "first_response_at": "第一次回复"}
    assert (loaded.table["first_response_at"] - loaded.table["opened_at"]).dt.total_seconds().tolist() == [7200, 86400]


def test_unknown_map_key_and_missing_mapped_header_are_explained(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["会员编号", "创建时间"], [["A", "2024-01-01"]])
    with pytest.raises(ConfigError, match="unknown key.*'opened'.*opened_at"):
        io.read_tickets(path, {"opened": "创建时间"})
    with pytest.raises(DataError, match=r"t\.csv: column '创建时刻'.*no such column.*Did you mean '创建时间'"):
        io.read_tickets(path, {"opened_at": "创建时刻"})


def test_missing_required_column_names_file_and_accepted_headers(tmp_path):
    path = write_csv(tmp_path / "tickets.csv", ["会员编号", "状态"], [["A", "open"]])
    with pytest.raises(DataError) as err:
        io.read_tickets(path)
    text = str(err.value)
    assert "tickets.csv" in text and "'opened_at'" in text and "创建时间" in text and "tickets_column_map" in text


def test_bad_date_names_file_column_row_and_value(tmp_path):
    rows = [["A", "2024-01-01"], ["B", "2024-13-45"], ["C", "2024-01-03"]]
    path = write_csv(tmp_path / "tickets.csv", ["customer_id", "opened_at"], rows)
    with pytest.raises(DataError) as err:
        io.read_tickets(path)
    text = str(err.value)
    assert "tickets.csv" in text and "column 'opened_at'" in text and "row 3" in text and "2024-13-45" in text


def test_response_before_opening_is_an_error_with_rows(tmp_path):
    rows = [["A", "2024-01-02 10:00", "2024-01-02 09:00"]]
    path = write_csv(tmp_path / "tickets.csv", ["customer_id", "opened_at", "first_response_at"], rows)
    with pytest.raises(DataError, match=r"column 'first_response_at': the first response is before the ticket was opened.*row 2"):
        io.read_tickets(path)


def test_tickets_after_the_observation_end_are_dropped_and_late_answers_are_open():
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "opened_at": ["2024-12-31 23:00", "2025-01-01 00:00", "2024-12-30 10:00"],
            "first_response_at": ["2025-01-01 01:00", "2025-01-01 02:00", "2024-12-30 11:00"],
        }
    )
    loaded = io.tickets_from_frame(frame, observation_end="2024-12-31")
    assert loaded.table["customer_id"].tolist() == ["A", "C"]
    assert [(d.reason, d.count, d.example_rows) for d in loaded.report.dropped] == [
        ("opened after the observation end 2024-12-31", 1, [3])
    ]
    assert pd.isna(loaded.table.loc[0, "first_response_at"])  # answered after the end: still open at the end
    assert dict(loaded.notes)["first response after the observation end (treated as not yet)"] == 1


def test_duplicate_ticket_and_customer_ids_are_errors():
    with pytest.raises(DataError, match=r"ticket ids appear more than once \(2 rows\).*row 2: 'T1'; row 4: 'T1'"):
        io.tickets_from_frame(pd.DataFrame({"ticket_id": ["T1", "T2", "T1"], "customer_id": ["A", "B", "C"],
                                            "opened_at": ["2024-01-01"] * 3}))
    with pytest.raises(DataError, match=r"customer ids appear more than once.*row 3: 'M1'"):
        io.customers_from_frame(pd.DataFrame({"customer_id": ["M0", "M1", "M1"]}))


def test_customers_excel_with_chinese_headers_and_personal_data(tmp_path):
    frame = pd.DataFrame(
        {
            "会员编号": ["00012", "00013", "00014"],
            "姓名": ["张三", "李四", "王五"],
            "入会日期": ["2023年5月1日", "2023年6月15日", ""],
            "注册渠道": ["门店", "小程序", "App"],
            "年龄段": ["25-34", "35-44", "18-24"],
        }
    )
    path = tmp_path / "members.xlsx"
    frame.to_excel(path, index=False)
    loaded = io.read_customers(path)
    t = loaded.table
    assert t["customer_id"].tolist() == ["00012", "00013", "00014"]  # leading zeros kept
    assert t["join_date"].tolist()[:2] == [pd.Timestamp("2023-05-01"), pd.Timestamp("2023-06-15")]
    assert pd.isna(t["join_date"].iloc[2])
    assert t["join_channel"].tolist() == ["门店", "小程序", "App"]
    assert "姓名" in loaded.report.ignored_columns and "姓名" not in t.columns
    assert dict(loaded.notes)["join date empty (kept; the first purchase is used)"] == 1


def test_parquet_tickets_keep_real_timestamps(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "opened_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00"]),
            "resolved_at": pd.to_datetime(["2024-01-03 10:00", None]),
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    t = io.read_tickets(tmp_path / "t.parquet").table
    assert (t["resolved_at"] - t["opened_at"]).dt.total_seconds().iloc[0] == 48 * 3600
    assert pd.isna(t["resolved_at"].iloc[1])


def test_a_missing_table_says_which_parameter_to_set():
    with pytest.raises(DataError) as err:
        io.require_path("", io.TICKETS, notebook="service")
    text = str(err.value)
    assert "the service notebook needs a service-tickets file" in text and "tickets_path" in text
    with pytest.raises(DataError, match="customer-base notebook needs a transactions file.*data_path"):
        io.load_transactions("  ", notebook="customer-base")
    assert io.require_path("x.csv", io.CUSTOMERS, notebook="n") == "x.csv"


def test_a_missing_channel_column_is_named_with_the_fix(tmp_path):
    path = write_csv(tmp_path / "orders.csv", ["会员编号", "下单时间", "实付金额"], [["A", "20240101", "12.50"]])
    with pytest.raises(DataError) as err:
        io.load_transactions(path, notebook="omnichannel", needs=["channel"])
    text = str(err.value)
    assert "orders.csv" in text and "omnichannel notebook needs the transactions column(s) 'channel'" in text
    assert "column_map" in text


def test_transactions_after_the_observation_end_are_dropped_and_counted(tmp_path):
    rows = [["A", "2024-12-31", "10"], ["A", "2025-01-02", "20"], ["B", "2024-12-01", "-5"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "date", "amount"], rows)
    loaded = io.load_transactions(path, notebook="n", observation_end="2024-12-31", returns_policy="drop")
    assert loaded.transactions["amount"].tolist() == [10.0]
    reasons = {d.reason: d.count for d in loaded.report.dropped}
    assert reasons == {"dates after observation end 2024-12-31": 1, "negative amounts (returns_policy='drop')": 1}


def test_relative_paths_are_also_found_from_the_repository_root(tmp_path):
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        found = io.locate("data/newretail/customers.csv")
        assert os.path.isfile(found)
        assert io.locate("no/such/file.csv") == "no/such/file.csv"
        assert io.locate("cdnow:master") == "cdnow:master"
    finally:
        os.chdir(here)


def test_quality_table_lists_every_input_and_absent_ones():
    tickets = io.tickets_from_frame(pd.DataFrame({"customer_id": ["A", ""], "opened_at": ["2024-01-01", ""]}))
    table = io.quality_table({"service_tickets": tickets, "customers": None},
                             extra={"checks": pd.DataFrame({"reason": ["x"], "rows": [2]})})
    assert table.query("table == 'service_tickets' and reason == 'dropped: empty rows'")["rows"].tolist() == [1]
    assert table.query("table == 'customers'")["reason"].tolist() == ["not provided"]
    assert table.query("table == 'checks'")["rows"].tolist() == [2]


def test_quality_table_reads_in_chinese_and_keeps_unknown_reasons():
    import re

    from helpers.report.page_text import data_quality_view, quality_reason

    tickets = io.tickets_from_frame(
        pd.DataFrame({"customer_id": ["A", "", "B", "C"],
                      "opened_at": ["2024-12-01 10:00", "", "2025-01-02 09:00", "2024-12-31 20:00"],
                      "first_response_at": ["2024-12-01 11:00", "", "", "2025-01-01 08:00"],
                      "resolved_at": ["", "", "", ""]}),
        observation_end="2024-12-31",
    )
    members = io.customers_from_frame(
        pd.DataFrame({"customer_id": ["A", "B"], "join_date": ["2024-01-01", "2025-02-01"]}), observation_end="2024-12-31"
    )
    checks = pd.DataFrame({"reason": ["join date after the first purchase (join date kept)", "a retailer's own note"],
                           "rows": [3, 1]})
    table = io.quality_table({"service_tickets": tickets, "customers": members, "transactions": None},
                             extra={"checks": checks})
    english = data_quality_view(table).to_html()
    chinese = data_quality_view(table, "zh-CN").to_html()
    assert "dropped: opened after the observation end 2024-12-31" in english and "What" in english
    assert "已剔除：创建时间晚于观察期末 2024-12-31" in chinese  # placeholders carried over
    assert "已剔除：空行" in chinese and "已剔除：入会日期晚于观察期末 2024-12-31" in chinese
    for zh in ("首次响应晚于观察期末（视为尚未响应）", "尚未解决（处理中）", "读取行数", "未提供", "服务工单", "客户（会员）",
               "入会日期晚于首次购买（保留入会日期）", "数据表", "项目", "行数"):
        assert zh in chinese, zh
    # every English reason was translated, except the one the catalog does not know
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", chinese)]  # cells are escaped
    assert [c for c in cells if re.search(r"[a-z]{3}", c) and "returns_policy" not in c] == ["a retailer's own note"]
    assert quality_reason("rows read", "en") == "rows read" and quality_reason(None, "zh-CN") is None


def test_tables_source_names_the_seed_or_the_escaped_folder():
    from helpers.report.page_text import tables_source

    for domain in ("campaigns", "triggers"):
        assert tables_source(domain, "<x>&y", False, 7) == "Campaign tables read from &lt;x&gt;&amp;y."
        generated = tables_source(domain, "<x>", True, 7)
        assert "(seed 7)" in generated and "<x>" not in generated
        assert "7" in tables_source(domain, "f", True, 7, language="zh-CN")


def test_plain_iso_dates_read_as_the_general_route_reads_them():
    """parse_dates' vectorised route for plain ISO text gives what the general parser gives."""
    from helpers.data.loading import parse_date_strings
    from helpers.data.tables_io import parse_dates

    rng = np.random.default_rng(3)
    stamps = pd.Timestamp("1999-12-31") + pd.to_timedelta(rng.integers(0, 10**9, 500), unit="s")
    texts = list(stamps.strftime("%Y-%m-%d %H:%M:%S")) + list(stamps[:50].strftime("%Y-%m-%d"))
    texts += ["2024-02-29T23:59:59", "2024-03-01 00:00", "2024-03-01 00:00:00.123456", "1970-01-01"]
    s = pd.Series(texts, dtype="str")
    general = parse_date_strings(s, file="f.csv", column="t").to_numpy(dtype="datetime64[ns]")
    fast = parse_dates(s, file="f.csv", column="t").to_numpy()
    assert fast.dtype == np.dtype("datetime64[ns]")
    assert (fast == general).all()
    # not plain ISO text: the general route (day/month words, padding, an impossible date named)
    mixed = pd.Series(["2024/1/31", " 2024-01-31 ", "2024年1月31日"], dtype="str")
    assert (parse_dates(mixed, file="f.csv", column="t") == pd.Timestamp("2024-01-31")).all()
    with pytest.raises(DataError, match="dates cannot be read"):
        parse_dates(pd.Series(["2023-02-29", "2023-03-01"], dtype="str"), file="f.csv", column="t")
