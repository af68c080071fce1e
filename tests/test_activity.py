"""One lapsed/active rule (issue 11, defect 4) and the boundaries of the tiers built on it."""

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.models import activity
from helpers.studies.segments import analysis as seg


def test_lapsed_boundaries_are_strict_on_both_thresholds():
    rule = activity.ActivityRule(alive_threshold=0.5, lapsed_days=365)
    p = np.array([0.5, 0.4999, 0.9, 0.9, 1.0])
    days = np.array([10, 10, 365, 366, 365])
    # exactly at the threshold P(alive) 0.5 is not lapsed; exactly 365 days silent is not lapsed
    assert activity.lapsed_mask(p, days, rule).tolist() == [False, True, False, True, False]


def test_segments_use_the_same_rule_and_defaults():
    settings = seg.SegmentSettings()
    assert (settings.alive_threshold, settings.lapsed_days) == (activity.ALIVE_THRESHOLD, activity.LAPSED_DAYS)
    custom = seg.SegmentSettings(alive_threshold=0.3, lapsed_days=100)
    p = np.array([0.3, 0.29, 1.0, 1.0])
    days = np.array([1, 1, 100, 101])
    assert seg.lapsed_mask(p, days, custom).tolist() == [False, True, False, True]


@pytest.mark.parametrize("kwargs", [{"alive_threshold": 0}, {"alive_threshold": 1.2}, {"lapsed_days": 0},
                                    {"lapsed_days": 2.5}, {"lapsed_days": True}])
def test_bad_rule_is_a_config_error(kwargs):
    with pytest.raises(ConfigError):
        activity.ActivityRule(**kwargs)


def test_top_share_cut_off_includes_the_customer_exactly_at_the_quantile():
    # 5 active customers, top 25%: the 0.75 quantile of [10, 20, 30, 40, 50] is 40 exactly
    values = np.array([10.0, 20, 30, 40, 50, 99])
    among = np.array([True, True, True, True, True, False])
    assert seg._top_share(values, 0.25, among).tolist() == [False, False, False, True, True, False]
    # value tiers: a customer exactly at both cut-offs is core, one just below is not
    settings = seg.SegmentSettings(high_value_share=0.25, high_clv_share=0.25, growing_clv_share=0.5)
    revenue = pd.Series([10.0, 20, 30, 40, 50, 99])
    lapsed = ~among
    tiers = seg.value_growth_tiers(revenue, values, lapsed, settings).astype(str).tolist()
    assert tiers == ["ordinary", "ordinary", "ordinary", "core", "core", "sleeping"]
    # the growing band: median of the active (30) is in, 20 is out
    clv = seg.clv_tiers(pd.Series(values), lapsed, settings).astype(str).tolist()
    assert clv == ["potential", "potential", "growing", "high_value_loyal", "high_value_loyal", "churn_risk"]


def test_tiers_at_exactly_lapsed_days_and_the_alive_threshold():
    settings = seg.SegmentSettings(lapsed_days=365, alive_threshold=0.5, new_days=30)
    frame = pd.DataFrame({
        "p_alive": [0.5, 0.49, 1.0, 1.0],
        "recency_days": [10, 10, 365, 366],
        "tenure_days": [400, 400, 400, 400],
        "purchase_days": [1, 1, 1, 1],
    }, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    # the lapsed rule: P(alive) strictly below the threshold, or strictly more than lapsed_days silent
    lapsed = seg.lapsed_mask(frame["p_alive"], frame["recency_days"], settings)
    assert list(lapsed) == [False, True, False, True]
    # lifecycle stages use recency only (the customer-base page's rules): exactly lapsed_days
    # silent is sleeping, one day more is churned, whatever P(alive) says
    as_of = pd.Timestamp("2024-12-31")
    transactions = pd.DataFrame({
        "customer_id": frame.index,
        "timestamp": [as_of - pd.Timedelta(days=int(d)) for d in frame["recency_days"]],
        "amount": 10.0,
    })
    stages = seg.lifecycle_stages(frame, transactions, as_of, settings).astype(str).tolist()
    assert stages[0] == stages[1] == "active"
    assert stages[3] == "churned" and stages[2] != "churned"
