"""KPI definitions against hand computations; targets, lights, trends and the driver decomposition."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.studies.kpi import analysis as K

TX = pd.DataFrame(
    [
        ("a", "2024-01-03 10:00", 100.0, "O1"), ("a", "2024-01-03 18:00", 50.0, "O2"), ("a", "2024-02-10", 60.0, "O3"),
        ("a", "2024-04-20", 40.0, "O4"), ("b", "2024-01-20", 200.0, "O5"), ("c", "2024-02-05", 30.0, "O6"),
        ("c", "2024-02-06", 30.0, "O7"), ("c", "2024-03-01", 90.0, "O8"),
    ],
    columns=["customer_id", "timestamp", "amount", "order_id"],
).assign(timestamp=lambda d: pd.to_datetime(d["timestamp"], format="ISO8601"))
CUSTOMERS = pd.DataFrame({"customer_id": ["a", "b", "c"], "join_date": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-02-05"])})
TICKETS = pd.DataFrame({"opened_at": pd.to_datetime(["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-04"]),
                        "satisfaction": [5, 3, 4, np.nan]})


def test_monthly_kpis_by_hand():
    m = K.monthly_kpis(TX, CUSTOMERS, TICKETS, end="2024-04-30")
    assert list(m.index.astype(str)) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert list(m["revenue"]) == [350, 120, 90, 40]
    assert list(m["orders"]) == [3, 3, 1, 1]  # two orders on one day are two orders
    assert list(m["active_members"]) == [2, 2, 1, 1]
    assert m["order_value"].tolist() == pytest.approx([350 / 3, 40, 90, 40])
    assert m["frequency"].tolist() == pytest.approx([1.5, 1.5, 1, 1])
    assert list(m["new_members"]) == [2, 1, 0, 0]
    # 复购率: buyers in the 90 days to each month end with >= 2 purchase days
    assert m["repeat_rate"].tolist() == pytest.approx([0, 2 / 3, 2 / 3, 1])
    # churn: b's last purchase (20 Jan) leaves the 90-day window by 30 April
    assert np.isnan(m["churn_rate"].iloc[0])
    assert m["churn_rate"].iloc[1:].tolist() == pytest.approx([0, 0, 1 / 3])
    assert m.loc["2024-02", "satisfaction"] == pytest.approx(2 / 3)  # 5 and 4 of 5, 4, 3
    assert np.isnan(m.loc["2024-03", "satisfaction"])


def test_cohort_retention_by_hand():
    c = K.cohort_retention(TX, CUSTOMERS, offsets=(1, 3), end="2024-04-30")
    assert c.loc[pd.Period("2024-01"), "members"] == 2
    assert c.loc[pd.Period("2024-01"), "retention_m1"] == 0.5 and c.loc[pd.Period("2024-01"), "retention_m3"] == 0.5
    assert c.loc[pd.Period("2024-02"), "retention_m1"] == 1.0
    assert np.isnan(c.loc[pd.Period("2024-02"), "retention_m3"])  # May is after the end


def test_lmdi_decomposition_adds_up_and_matches_the_closed_form():
    d = K.decompose((100, 2.0, 50.0), (120, 2.5, 40.0))
    assert d["change"] == pytest.approx(2000)
    weight = 2000 / math.log(1.2)
    assert d["customers"] == pytest.approx(2000)  # weight x ln(1.2)
    assert d["orders_per_customer"] == pytest.approx(weight * math.log(1.25))
    assert d["order_value"] == pytest.approx(weight * math.log(0.8))
    assert d["customers"] + d["orders_per_customer"] + d["order_value"] == pytest.approx(d["change"])
    same = K.decompose((10, 1.0, 5.0), (10, 1.0, 5.0))
    assert same["customers"] == same["order_value"] == 0


def test_lights_and_trend():
    t = K.parse_targets({"repeat_rate": 0.5, "churn_rate": {"value": 0.1, "source": "case: -20% churn"}})
    assert K.light("repeat_rate", 0.5, t["repeat_rate"]) == "green"
    assert K.light("repeat_rate", 0.49, t["repeat_rate"]) == "amber"  # within 5% of the target
    assert K.light("repeat_rate", 0.40, t["repeat_rate"]) == "red"
    assert K.light("churn_rate", 0.09, t["churn_rate"]) == "green"  # lower is better
    assert K.light("churn_rate", 0.104, t["churn_rate"]) == "amber"
    assert K.light("churn_rate", 0.2, t["churn_rate"]) == "red"
    assert K.light("frequency", 1.0, None) == "none"
    assert K.trend(pd.Series([1, 1, 1, 2, 2, 2.0])) == ("up", pytest.approx(1.0))
    assert K.trend(pd.Series([1, 1, 1, 1, 1, 1.01]))[0] == "flat"
    with pytest.raises(ConfigError, match="targets.aov"):
        K.parse_targets({"aov": 200})
    with pytest.raises(ConfigError, match="repeat_rate"):
        K.parse_targets({"repeat_rate": "high"})


def test_study_uses_the_last_complete_month_and_decomposes_mom():
    s = K.run_kpi_study(TX, CUSTOMERS, TICKETS, targets={"repeat_rate": 0.5}, observation_end="2024-04-30")
    assert str(s.month) == "2024-04"
    assert s.scorecard.loc["repeat_rate", "light"] == "green"
    mom = s.changes.loc["mom"]
    assert mom["change"] == pytest.approx(40 - 90)
    assert mom["order_value"] == pytest.approx(-50)  # only the order value changed (90 -> 40)
    partial = K.run_kpi_study(TX, CUSTOMERS, TICKETS, observation_end="2024-04-25")
    assert str(partial.month) == "2024-03"


def test_satisfaction_says_how_many_tickets_it_rests_on():
    m = K.monthly_kpis(TX, CUSTOMERS, TICKETS, end="2024-04-30")
    assert list(m["satisfaction_tickets"]) == [0, 3, 0, 0]
