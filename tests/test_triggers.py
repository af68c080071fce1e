"""Trigger rules, audiences, caps, backtest and the weather effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.data import campaigns as K
from helpers.data import tables_io
from helpers.data.generator.campaigns import RAIN_DELIVERY_LIFT
from helpers.errors import ConfigError
from helpers.studies.triggers import analysis as T
from helpers.studies.triggers.rules import Settings, load_rules, parse_rules

RULES = {"rules": [{"id": "r", "kind": "due"}]}


@pytest.mark.parametrize(
    "data, words",
    [
        ({"rules": [{"id": "r", "kind": "nope"}]}, ["rules[0] (r).kind = 'nope'", "due"]),
        ({"rules": [{"id": "r", "kind": "due", "k": -1}]}, ["rules[0] (r).k = -1"]),
        ({"rules": [{"id": "r", "kind": "due", "days": 3}]}, ["unknown key", "days"]),
        ({"rules": [{"id": "r", "kind": "due"}, {"id": "r", "kind": "birthday"}]}, ["same id"]),
        ({"rules": [{"id": "r", "kind": "due", "guards": {"min_p_alive": 0.9, "max_p_alive": 0.2}}]}, ["min_p_alive"]),
        ({"rules": [{"id": "r", "kind": "due", "guards": {"clv_tiers": ["gold"]}}]}, ["clv_tiers", "gold"]),
        ({**RULES, "settings": {"quiet_hours": [22]}}, ["quiet_hours"]),
        ({**RULES, "settings": {"cap_days": 3}}, ["cap_days", "7"]),
        ({"rules": []}, ["at least one rule"]),
        ({"rules": [{"id": "w", "kind": "weather"}]}, ["needs min_rain_mm"]),
        ({"rules": [{"id": "w", "kind": "weather", "min_temperature_c": 30, "max_temperature_c": 10}]}, ["above"]),
    ],
)
def test_bad_rules_are_explained(data, words):
    with pytest.raises(ConfigError) as err:
        parse_rules(data, "t.yaml")
    assert "t.yaml" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_the_shipped_rules_load_in_both_languages():
    config = load_rules()
    assert [r.kind for r in config.rules] == ["due", "birthday", "weekday_affinity", "weather", "weather",
                                              "near_store", "sleeping"]
    assert all(r.name("zh-CN") != r.name("en") for r in config.rules)


def test_quiet_hours_wrap_past_midnight():
    s = Settings(quiet_hours=(22, 8))
    assert np.asarray(s.quiet(np.array([21, 22, 23, 0, 7, 8]))).tolist() == [False, True, True, True, True, False]
    assert np.asarray(Settings(quiet_hours=(13, 14)).quiet(np.array([12, 13, 14]))).tolist() == [False, True, False]


def _inputs():
    tx = pd.DataFrame({
        "customer_id": ["A", "A", "B", "C"], "order_id": list("1234"),
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-11 09:00", "2024-01-01 20:00", "2024-01-03 12:00"]),
        "amount": [100.0, 100.0, 50.0, 10.0], "channel": ["store", "app", "app", "app"],
    })
    profiles = pd.DataFrame({"customer_id": ["A", "B", "C"], "city": ["x", "x", "y"],
                             "home_area": ["A1", "A9", "A5"], "birthday": ["02-03", "01-25", None]})
    stores = pd.DataFrame({"store_id": ["S1"], "city": ["x"], "area": ["A5"]})
    return T.TriggerInputs(tx, profiles, stores, None, end=pd.Timestamp("2024-03-01"))


def test_due_sleeping_birthday_and_near_store_by_hand():
    inputs = _inputs()
    # day offsets from 2024-01-01: A last bought day 10; B day 0; C day 2
    state = pd.DataFrame({"code": [0, 1, 2], "last": [10, 0, 2], "typical_gap": [10.0, 30.0, 4.0],
                          "last_store": [0, -1, -1]})
    rules = parse_rules({"rules": [
        {"id": "due", "kind": "due", "k": 1.5}, {"id": "sleep", "kind": "sleeping", "days": 30},
        {"id": "bd", "kind": "birthday", "days_before": 3}, {"id": "near", "kind": "near_store", "no_store_visit_days": 20},
    ]}).rules
    hab = pd.DataFrame(index=range(3))
    near = T.near_store(inputs)
    assert near.tolist() == [True, True, False]  # A1 and A9 touch A5 diagonally; C's city has no store
    due = T.candidates(inputs, rules[0], state, hab, 21, near)
    # A: 10 + ceil(15) = 25 in [21, 28); B: 0 + 45; C: 2 + 6 = 8
    assert due.values.tolist() == [[0, 25]]
    sleep = T.candidates(inputs, rules[1], state, hab, 28, near)
    assert sleep.values.tolist() == [[1, 30], [2, 32]]  # B 0 + 30, C 2 + 30, A 40 is next week
    bd = T.candidates(inputs, rules[2], state, hab, 21, near)
    assert bd.values.tolist() == [[1, 21]]  # B's birthday 01-25 (day 24) minus 3; A's 02-03 is day 33
    ns = T.candidates(inputs, rules[3], state, hab, 21, near)
    assert ns.values.tolist() == [[0, 21], [1, 21]]  # A's store visit 21 days ago, B never; C not near


def _birthday_day_from_text(inputs, code, start):
    """The birthday lookup as it was first written (dates parsed from MM-DD text every week):
    the reference for the one that parses the profiles' birthdays once."""
    bday = inputs.profile_column("birthday").iloc[code]
    known = bday.notna().to_numpy()
    md = bday.fillna("01-01").to_numpy(str)
    start_date = inputs.date(start)[0]
    out = np.full(len(code), -1)
    for year in (start_date.year, start_date.year + 1):
        text = np.char.add(f"{year}-", md)
        text = np.where(np.char.endswith(text, "02-29") & (year % 4 != 0), f"{year}-02-28", text)
        when = ((pd.to_datetime(text) - inputs.origin).days).to_numpy()
        out = np.where((out < 0) & (when >= start) & known, when, out)
    return out


def test_birthday_days_match_the_text_lookup_across_years_leap_days_and_unknowns():
    rng = np.random.default_rng(3)
    n = 400
    ids = [f"C{i:03d}" for i in range(n)]
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    birthdays = pd.Series(days.strftime("%m-%d"))
    birthdays[:20] = "02-29"
    birthdays[20:30] = "12-31"
    birthdays[30:40] = "01-01"
    birthdays[rng.random(n) < 0.15] = None
    tx = pd.DataFrame({"customer_id": ids, "order_id": ids, "amount": 10.0, "channel": "app",
                       "timestamp": pd.Timestamp("2022-11-03 10:00") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")})
    profiles = pd.DataFrame({"customer_id": ids[::-1], "city": "x", "birthday": birthdays[::-1].to_numpy()})
    inputs = T.TriggerInputs(tx, profiles, None, None)
    code = rng.permutation(n)[:300]
    for start in (0, 58, 59, 300, 400, 423, 424, 789, 850):  # around new years and 29 February 2024
        expected = _birthday_day_from_text(inputs, code, start)
        got = T._birthday_day(inputs, code, start)
        assert got.dtype == expected.dtype and (expected >= 0).sum() > 200
        np.testing.assert_array_equal(got, expected)
    assert (T._birthday_day(inputs, code[:0], 5) == np.array([], int)).all()


def test_value_guards_keep_one_time_buyers_out_of_p_alive_bands():
    rule = parse_rules({"rules": [{"id": "r", "kind": "due", "offer": 20,
                                   "guards": {"min_p_alive": 0.3, "max_discount": 0.2, "clv_tiers": ["high", "mid"]}}]}).rules[0]
    state = pd.DataFrame({"code": [0, 1, 2, 3], "p_alive": [np.nan, 0.9, 0.9, 0.9],
                          "clv_tier": ["high", "high", "low", "mid"], "spend_per_day": [500.0, 500.0, 500.0, 50.0]})
    rows = pd.DataFrame({"code": [0, 1, 2, 3], "day": 5})
    # 0: one-time buyer (no P(alive)); 2: low tier; 3: 20 > 0.2 x 50
    assert T.apply_guards(rule, rows, state)["code"].tolist() == [1]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder, _ = K.campaign_data_folder("data/newretail", str(tmp_path_factory.mktemp("cache")))
    tx = tables_io.load_transactions("data/newretail/transactions.csv", notebook="t").transactions
    extra = tables_io.load_transactions(f"{folder}/delivery_orders.csv", notebook="t").transactions
    read = K.read_campaign_table
    inputs = T.TriggerInputs(
        pd.concat([tx, extra], ignore_index=True), read(f"{folder}/customer_profiles.csv", "customer_profiles").table,
        read(f"{folder}/store_locations.csv", "store_locations").table, read(f"{folder}/weather.csv", "weather").table,
        end=pd.Timestamp("2024-12-31"),
    )
    return T.run_trigger_study(inputs, load_rules(), weeks=8, uplift={"all": 0.05, "at_risk": 0.12})


def test_weather_effect_interval_covers_the_planted_lift(study):
    w = study.weather
    assert w.low <= 1 + RAIN_DELIVERY_LIFT <= w.high
    assert w.low > 1.15  # clearly above "no effect"


def test_caps_and_quiet_hours_hold_in_the_backtest(study):
    sends = study.backtest.sends
    settings = study.config.settings
    per_week = sends.groupby(["week", "code"]).size()
    assert per_week.max() <= settings.max_per_week
    gaps = sends.sort_values("day").groupby(["rule", "code"])["day"].diff().dropna()
    assert gaps.min() >= settings.cap_days
    assert not np.asarray(settings.quiet(sends["send_hour"].to_numpy())).any()
    assert (sends.loc[sends["moved_by_quiet_hours"], "send_hour"] == settings.quiet_hours[1]).all()


def test_hit_rates_match_an_independent_count(study):
    sends, inputs = study.backtest.sends, study.inputs
    tx = inputs.purchases.assign(day=(inputs.purchases["timestamp"].dt.normalize() - inputs.origin).dt.days)
    tx["code"] = np.searchsorted(inputs.ids, tx["customer_id"].to_numpy(str))
    pairs = sends[["code", "day", "rule"]].reset_index().merge(tx[["code", "day"]].rename(columns={"day": "buy"}), on="code")
    window = (pairs["buy"] >= pairs["day"]) & (pairs["buy"] <= pairs["day"] + study.config.settings.hit_days)
    hit = pairs[window]["index"].unique()
    expected = pd.Series(sends.index.isin(hit), index=sends.index).groupby(sends["rule"]).mean()
    got = study.backtest.summary.set_index("rule")["hit_rate"]
    pd.testing.assert_series_equal(got.loc[expected.index], expected, check_names=False)


def test_backtest_margin_by_hand(study):
    s = study.backtest.summary.set_index("rule")
    assert np.isnan(s.loc["due_reminder", "weekly_incremental_margin"])  # no coupon, no measured uplift
    sends = study.backtest.sends[study.backtest.sends["rule"] == "birthday"]
    u = sends["segment"].map({"at_risk": 0.12}).fillna(0.05)
    rate = s.loc["birthday", "hit_rate"]
    margin = (u * 0.30 * sends["spend_per_day"] - 20 * np.clip(rate + u, 0, 1)).sum() / 8
    assert s.loc["birthday", "weekly_incremental_margin"] == pytest.approx(margin)


def test_calendar_and_export(study, tmp_path):
    cal = study.calendar
    assert cal["week"].nunique() == 4 and set(cal["rule"]) == {r.id for r in study.config.rules}
    table = study.export_table()
    assert set(table["rule"]) <= {"due_reminder", "birthday", "weekday_habit", "wake_up"}
    scheduled = cal[cal["basis"] == "scheduled"].groupby("rule")["audience"].sum()
    assert table.groupby("rule").size().reindex(scheduled.index, fill_value=0).tolist() == scheduled.tolist()
    assert (pd.to_datetime(table["trigger_date"]) > pd.Timestamp("2024-12-31")).all()


def test_weather_rules_by_hand():
    inputs = _inputs()
    day = pd.Timestamp("2024-01-01")
    inputs.weather = pd.DataFrame({
        "city": ["x", "x", "y"], "date": [day + pd.Timedelta(days=21), day + pd.Timedelta(days=22), day + pd.Timedelta(days=21)],
        "rain_mm": [5.0, 0.0, 5.0], "temperature_c": [10.0, 33.0, 12.0],
    })
    state = pd.DataFrame({"code": [0, 1, 2]})
    hab = pd.DataFrame({"online_share": [0.5, 1.0, 1.0]})
    rain, hot = parse_rules({"rules": [
        {"id": "rain", "kind": "weather", "min_rain_mm": 2}, {"id": "hot", "kind": "weather", "min_temperature_c": 30},
    ]}).rules
    near = np.zeros(3, bool)
    # A and B live in x (online shares 0.5 and 1), C in y
    assert T.candidates(inputs, rain, state, hab, 21, near).values.tolist() == [[0, 21], [1, 21], [2, 21]]
    assert T.candidates(inputs, hot, state, hab, 21, near).values.tolist() == [[0, 22], [1, 22]]
    assert T.candidates(inputs, hot, state, hab.assign(online_share=[0.2, 1.0, 1.0]), 21, near).values.tolist() == [[1, 22]]


def test_transactions_alone_run_the_rules_that_need_nothing_else():
    tx = tables_io.load_transactions("data/newretail/transactions.csv", notebook="t").transactions
    study = T.run_trigger_study(T.TriggerInputs(tx, end=pd.Timestamp("2024-12-31")), load_rules(), weeks=4)
    s = study.backtest.summary.set_index("rule")
    assert s.loc["due_reminder", "triggers"] > 0 and s.loc["weekday_habit", "triggers"] > 0
    # no birthdays, homes or weather: those rules reach nobody, and there is no weather effect
    assert s.loc[["birthday", "rain_delivery", "hot_day", "near_store"], "triggers"].eq(0).all()
    assert study.weather is None
    from helpers.studies.triggers import narrative as TN

    assert "nobody" not in TN.headline(study, "en") and TN.weather_text(study, "zh-CN")


def test_habits_by_hand():
    inputs = _inputs()
    hab = T.habits(inputs, 60)
    # A: Monday 2024-01-01 09:00 (store) and Thursday 2024-01-11 09:00 (app); B: Monday 20:00; C: Wednesday 12:00
    assert hab["online_share"].tolist() == [0.5, 1.0, 1.0]
    assert hab["weekday"].tolist()[1:] == [0, 2] and hab["weekday_share"].tolist() == [0.5, 1.0, 1.0]
    assert hab["hour"].tolist() == [9, 20, 12] and hab["purchase_days"].tolist() == [2, 1, 1]
