"""Programme monitoring from the points ledger: hand computations and the generator's truth."""

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.data import tables_io
from helpers.data.ledger import ledger_from_frame, read_ledger
from helpers.errors import DataError
from helpers.studies.monitoring import analysis as A

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "newretail"


def _ledger(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event_type", "points", "tier_from", "tier_to"])
    return ledger_from_frame(frame).table


HAND = [
    ("a", "2024-01-05", "earn_purchase", 600, None, None),
    ("a", "2024-01-20", "tier_change", None, "bronze", "silver"),
    ("a", "2024-02-10", "earn_purchase", 400, None, None),  # silver
    ("a", "2024-02-11", "redeem", -500, None, None),  # silver, opening balance in February 600
    ("b", "2024-01-07", "earn_checkin", 100, None, None),
    ("b", "2024-03-31", "expire", -100, None, None),
    ("c", "2024-02-01", "earn_share", 1000, None, None),
]


def test_monthly_flows_and_totals_by_hand():
    led = _ledger(HAND)
    m = A.monthly_points(led)
    assert list(m["issued"]) == [700, 1400, 0]
    assert list(m["redeemed"]) == [0, 500, 0]
    assert list(m["expired"]) == [0, 0, 100]
    assert list(m["outstanding"]) == [700, 1600, 1500]
    t = A.totals(m, A.PointEconomics(points_per_currency_redeemed=100, reward_cost_ratio=0.6))
    assert t["redemption_rate"] == pytest.approx(500 / 2100)
    assert t["breakage_rate"] == pytest.approx(100 / 2100)
    assert t["breakage_settled"] == pytest.approx(100 / 600)
    # 1500 outstanding x (1 - 1/6) expected to be used x 0.01 face x 0.6 cost ratio
    assert t["liability_at_cost"] == pytest.approx(1500 * 5 / 6 * 0.01 * 0.6)
    assert t["deferred_revenue"] == pytest.approx(1500 * 5 / 6 * 0.01)


def test_tiers_redemption_by_tier_and_propensity_by_hand():
    led = _ledger(HAND)
    tiers = A.tier_at(led, pd.Series(["a", "a", "b"]), pd.Series(pd.to_datetime(["2024-01-20", "2024-01-21", "2024-06-01"])),
                      "bronze")
    assert list(tiers) == ["bronze", "silver", "bronze"]  # a change counts from after its moment
    by = A.redemption_by_tier(led, ("bronze", "silver", "gold"))
    assert by.loc["bronze", "issued"] == 1700 and by.loc["silver", "issued"] == 400
    assert by.loc["silver", "redeemed"] == 500 and by.loc["bronze", "redeemed"] == 0
    members = pd.DataFrame({"customer_id": ["a", "b", "c"], "join_date": pd.to_datetime(["2024-01-05", "2024-01-07", "2024-02-01"])})
    # member-months opening >= 500: a-Feb (600), a-Mar (500), c-Mar (1000); one of them redeems
    prop = A.observed_propensity(led, members, pd.Timestamp("2024-03-31"), 500)
    assert prop["eligible_member_months"] == 3 and prop["redeeming_member_months"] == 1
    assert prop["propensity"] == pytest.approx(1 / 3)
    # the lab's rule also needs a purchase in the month: a bought in February, c in March, a not in March
    tx = pd.DataFrame({"customer_id": ["a", "c"], "timestamp": pd.to_datetime(["2024-02-11", "2024-03-10"])})
    prop = A.observed_propensity(led, members, pd.Timestamp("2024-03-31"), 500, tx)
    assert prop["eligible_member_months"] == 2 and prop["propensity"] == pytest.approx(1 / 2)
    first = A.time_to_first_redemption(led, members, pd.Timestamp("2024-04-01"), horizons=(30, 60))
    # a redeemed 37 days after joining; tenures: a 87, b 85, c 60 days
    assert list(first["members"]) == [3, 3] and list(first["redeemed"]) == [0, 1]


def test_ledger_loader_reads_chinese_headers_and_names_bad_rows():
    frame = pd.DataFrame({"会员编号": ["a", "a"], "发生时间": ["2024-01-01", "2024/1/2"], "变动类型": ["积分获取", "兑换"],
                          "积分": ["1,000", "500"], "手机号": ["13800138000"] * 2})
    led = ledger_from_frame(frame).table
    assert list(led.columns) == ["customer_id", "timestamp", "event_type", "points"]
    assert list(led["points"]) == [1000, -500]  # a positive redemption is read as points removed
    bad = frame.assign(变动类型=["积分获取", "gift"])
    with pytest.raises(DataError, match=r"(?s)变动类型.*event types.*row 3.*gift"):
        ledger_from_frame(bad, source="ledger.csv")


@pytest.fixture(scope="module")
def generated():
    led = read_ledger(DATA / "loyalty_events.csv").table
    customers = tables_io.read_customers(DATA / "customers.csv").table
    tx = tables_io.load_transactions(str(DATA / "transactions.csv"), notebook="t").transactions
    truth = json.loads((DATA / "truth.json").read_text())
    study = A.run_monitoring_study(led, customers, tx, observation_end="2024-12-31")
    return study, truth


def test_ledger_breakage_and_redemption_match_the_generator_truth(generated):
    study, truth = generated
    t = truth["loyalty"]
    assert study.totals["points_issued"] == t["points_credited"]
    assert study.totals["points_redeemed"] == t["points_redeemed"]
    assert study.totals["points_expired"] == t["points_expired"]
    assert study.totals["breakage_rate"] == pytest.approx(t["points_expired"] / t["points_credited"], rel=1e-12)
    assert study.totals["redemption_rate"] == pytest.approx(t["points_redeemed"] / t["points_credited"], rel=1e-12)
    assert study.totals["points_outstanding"] == t["points_credited"] - t["points_redeemed"] - t["points_expired"]
    # every member's tier at the end, read from the tier changes, equals the generator's end tiers
    led = read_ledger(DATA / "loyalty_events.csv").table
    ids = tables_io.read_customers(DATA / "customers.csv").table["customer_id"]  # with or without events
    end = A.tier_at(led, ids, pd.Series(pd.Timestamp("2025-01-01"), index=ids.index), "bronze")
    assert pd.Series(end).value_counts().to_dict() == t["tier_at_end"]
    # the generator redeems only in whole blocks of 500 points
    assert study.totals["points_redeemed"] % truth["config"]["redeem_block"] == 0


def test_matched_comparison_shrinks_the_selection_gap(generated):
    study, _ = generated
    c = study.comparison
    # redemption has no effect on purchases in the generator: users differ because heavier buyers
    # collect enough points; matching on pre-index behaviour removes a large part of that gap
    assert c["pre_spend_users"] > 2 * c["pre_spend_non_users"]
    assert 0 <= c["matched"]["post_spend"] < 0.7 * c["raw"]["post_spend"]
    assert c["users_matched"] >= 0.9 * c["users"]


@pytest.mark.slow
def test_lab_rerun_with_the_observed_propensity_redeems_less(generated):
    study, _ = generated
    tx = tables_io.load_transactions(str(DATA / "transactions.csv"), notebook="t").transactions
    table = A.calibrate_lab(tx, study.propensity, A.lab_design(1, 0.01, 500, 18), observation_end="2024-12-31",
                            horizon_months=24, runs=4, customers=800)
    assert table.loc["assumed", "redemption_propensity"] == 0.6
    assert table.loc["observed", "redemption_propensity"] == pytest.approx(study.propensity["propensity"])
    # a lower propensity must give a lower simulated redemption rate and a higher breakage
    assert table.loc["observed", "lab_redemption_rate"] < table.loc["assumed", "lab_redemption_rate"]
    assert table.loc["observed", "lab_breakage_rate"] > table.loc["assumed", "lab_breakage_rate"]


def test_a_ledger_without_tiers_or_redemptions_still_gives_a_study():
    led = _ledger([("a", "2024-01-05", "earn_purchase", 600, None, None), ("b", "2024-02-05", "earn_purchase", 50, None, None)])
    led = led.drop(columns=["tier_from", "tier_to"], errors="ignore")
    tx = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(["2024-01-05", "2024-02-05"]), "amount": [600.0, 50.0]})
    s = A.run_monitoring_study(led, None, tx, observation_end="2024-03-31")
    assert s.totals["points_outstanding"] == 650 and s.totals["redemption_rate"] == 0
    assert list(s.by_tier.index) == ["bronze"] and s.metrics["tier_changes"] == {"upgrades": 0, "downgrades": 0}
    assert s.comparison["raw"] == {}
