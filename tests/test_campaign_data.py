"""Campaign tables: the generator extension (planted truth) and the coupon / message loaders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.data import campaigns as K
from helpers.data.generator import GeneratorConfig, generate, write
from helpers.data.generator.campaigns import (
    PLANTED_UPLIFT,
    PurchaseDays,
    segments_at,
    simulate_campaigns,
)
from helpers.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def data():
    return generate(GeneratorConfig(n_customers=1500, seed=3, campaigns=True))


def test_the_flag_defaults_off_and_is_left_out_of_the_recorded_config():
    config = GeneratorConfig()
    assert config.campaigns is False and "campaigns" not in config.to_dict()
    assert GeneratorConfig(campaigns=True).to_dict()["campaigns"] is True
    assert GeneratorConfig.from_dict(GeneratorConfig(campaigns=True).to_dict()).campaigns is True
    with pytest.raises(ConfigError, match="campaigns"):
        GeneratorConfig(campaigns="yes")


def test_generated_tables_written_with_truth(data, tmp_path):
    assert set(data.extras) == {"customer_profiles", "store_locations", "weather", "delivery_orders", "coupons", "messages"}
    paths = write(data, tmp_path)
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert truth["campaigns"]["coupons"]["planted_uplift_by_segment"] == PLANTED_UPLIFT
    coupons = K.read_coupons(paths["coupons"]).table
    assert len(coupons) == len(data.extras["coupons"])
    messages = K.read_messages(paths["messages"]).table
    assert set(messages["variant"]) == {"personalised", "broadcast"}
    # the same seed gives the same tables; the core tables are untouched by the flag
    again = simulate_campaigns(data.customers, data.transactions, data.stores, 3, end="2024-12-31")
    pd.testing.assert_frame_equal(again.tables["coupons"], data.extras["coupons"])
    plain = generate(GeneratorConfig(n_customers=1500, seed=3))
    pd.testing.assert_frame_equal(plain.transactions, data.transactions)


def test_holdout_is_random_and_the_holdout_never_redeems(data):
    c = data.extras["coupons"]
    share = (c["group"] == "holdout").mean()
    n = len(c)
    assert abs(share - 0.3) < 3 * np.sqrt(0.3 * 0.7 / n)
    assert c.loc[c["group"] == "holdout", "redeemed_at"].isna().all()
    # redemptions only by treated customers who bought
    red = c["redeemed_at"].notna()
    assert (c.loc[red, "group"] == "treatment").all() and c.loc[red, "converted"].all()


def test_holdout_outcome_is_the_history():
    # a hand-made history: the holdout converts exactly when it bought in the window
    tx = pd.DataFrame({"customer_id": ["A", "A", "B"], "order_id": ["1", "2", "3"],
                       "timestamp": pd.to_datetime(["2023-01-01", "2023-03-05", "2023-01-01"]),
                       "channel": "store", "amount": [10.0, 20.0, 30.0]})
    days = PurchaseDays.from_transactions(tx, np.array(["A", "B"]), pd.Timestamp("2023-01-01"))
    code, day = np.array([0, 0, 1]), np.array([63, 64, 63])  # 2023-03-05 is day 63
    assert days.count(code, day, day + 21).tolist() == [1, 0, 0]
    assert days.count(code, day - 63, day).tolist() == [1, 1, 1]
    assert days.count(code, np.zeros(3, int), day).tolist() == [1, 2, 1]
    assert days.spend(code, np.zeros(3, int), day + 1).tolist() == [30.0, 30.0, 30.0]
    assert days.last_before(code, day).tolist() == [0, 63, 0]
    # at day 63 A has one purchase day (63 days ago): new; at day 64 two, the last 1 day ago: regular
    # (champions need 4 in a year, at risk 90 quiet days); B one purchase day 63 days ago: new
    assert segments_at(days, code, day).tolist() == ["new", "regular", "new"]


# --- loaders ---------------------------------------------------------------------------------


def _coupon_frame():
    return pd.DataFrame({
        "会员编号": ["A", "B", "C", "D"], "活动ID": ["X", "X", "X", "X"], "分组": ["实验组", "对照组", "treatment", "holdout"],
        "是否转化": ["是", "否", "1", "0"], "核销时间": ["2024-01-03", "", "", ""], "发券时间": ["2024-01-01"] * 4,
    })


def test_coupons_with_chinese_headers_and_values():
    load = K.coupons_from_frame(_coupon_frame())
    t = load.table
    assert t["group"].tolist() == ["treatment", "holdout", "treatment", "holdout"]
    assert t["converted"].tolist() == [True, False, True, False]
    assert t["redeemed_at"].notna().tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda f: f.assign(分组=["实验组", "maybe", "treatment", "holdout"]), ["分组", "row 3", "maybe"]),
        (lambda f: f.assign(是否转化=["是", "否", "perhaps", "0"]), ["是否转化", "row 4", "perhaps"]),
        (lambda f: f.assign(核销时间=["", "2024-01-05", "", ""]), ["核销时间", "row 3", "holdout"]),
        (lambda f: f.assign(核销时间=["2023-12-01", "", "", ""]), ["before they were issued", "row 2"]),
        (lambda f: f.assign(会员编号=["A", "A", "C", "D"]), ["more than once", "row 2", "row 3"]),
        (lambda f: f.drop(columns="是否转化"), ["converted", "no column"]),
        (lambda f: f.assign(分组="实验组"), ["holdout"]),
    ],
)
def test_bad_coupon_files_get_one_line_errors(tmp_path, change, words):
    path = tmp_path / "coupons.csv"
    change(_coupon_frame()).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        K.read_coupons(path)
    message = str(err.value)
    assert "\n" not in message.strip() and "coupons.csv" in message
    for word in words:
        assert word in message


def test_bad_message_files_get_one_line_errors(tmp_path):
    frame = pd.DataFrame({"customer_id": ["A", "B"], "variant": ["个性化", "群发"],
                          "send_time": ["2024-01-01 10:00", "2024-01-01 10:00"],
                          "open_time": ["2024-01-01 09:00", ""]})
    path = tmp_path / "messages.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"messages.csv.*open_time.*row 2"):
        K.read_messages(path)
    frame.assign(variant=["个性化", "sms"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"variant.*row 3.*sms"):
        K.read_messages(path)
    frame.assign(open_time=["", ""], variant=["群发", "群发"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="personalised and broadcast"):
        K.read_messages(path)
    with pytest.raises(DataError, match="messages_path"):
        K.load_campaign_table("", "messages", notebook="campaigns")


def test_streaming_refuses_the_in_memory_extension(tmp_path):
    from helpers.data.generator import generate_to_folder

    with pytest.raises(ConfigError, match="in memory"):
        generate_to_folder(GeneratorConfig(n_customers=10, campaigns=True), tmp_path)


def test_profiles_and_weather_loaders_explain_bad_values():
    good = pd.DataFrame({"会员编号": ["A", "B"], "城市": ["x", "x"], "商圈": ["A1", "a9"], "生日": ["1990-05-12", "3月8日"]})
    t = K.profiles_from_frame(good).table
    assert t["home_area"].tolist() == ["A1", "A9"] and t["birthday"].tolist() == ["05-12", "03-08"]
    with pytest.raises(DataError, match=r"商圈.*row 3.*Z7"):
        K.profiles_from_frame(good.assign(商圈=["A1", "Z7"]))
    with pytest.raises(DataError, match=r"生日.*row 2.*13-40"):
        K.profiles_from_frame(good.assign(生日=["13-40", ""]))
    weather = pd.DataFrame({"城市": ["x", "x"], "日期": ["2024-01-01", "2024-01-01"], "降雨量": [0, 3]})
    with pytest.raises(DataError, match=r"two rows for the same day.*row 2"):
        K.weather_from_frame(weather)
    with pytest.raises(DataError, match=r"降雨量.*row 3"):
        K.weather_from_frame(weather.assign(日期=["2024-01-01", "2024-01-02"], 降雨量=[0, -1]))


def test_a_folder_that_cannot_be_extended_gets_a_one_line_error(tmp_path):
    with pytest.raises(DataError, match=r"only generated for a generated dataset"):
        K.campaign_data_folder(str(tmp_path), str(tmp_path / "cache"))  # real data: never extended
    (tmp_path / "truth.json").write_text("{}", encoding="utf-8")
    for name in ("customers", "transactions", "stores"):
        pd.DataFrame({"customer_id": ["A"], "x": [1]}).to_csv(tmp_path / f"{name}.csv", index=False)
    with pytest.raises(DataError, match=r"customers.csv.*join_date, region, city_tier are missing"):
        K.campaign_data_folder(str(tmp_path), str(tmp_path / "cache"))
    (tmp_path / "stores.csv").unlink()
    with pytest.raises(DataError, match=r"no coupons.csv and no stores.csv"):
        K.campaign_data_folder(str(tmp_path), str(tmp_path / "cache"))


def test_campaigns_without_a_holdout_are_left_out_with_a_note():
    frame = _coupon_frame()
    extra = pd.DataFrame({"会员编号": ["E", "F"], "活动ID": ["Y", "Y"], "分组": ["实验组", "实验组"],
                          "是否转化": ["是", "否"], "核销时间": ["", ""], "发券时间": ["2024-01-01"] * 2})
    load = K.coupons_from_frame(pd.concat([frame, extra], ignore_index=True))
    assert set(load.table["campaign_id"]) == {"X"}
    assert load.notes and "Y" in load.notes[0][0] and load.notes[0][1] == 2
