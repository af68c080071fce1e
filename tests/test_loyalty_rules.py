"""Rule mechanics on hand-made tiny cases: each expected number is worked out by hand.

``replay`` runs a design's rules on given purchases and spend (no model, no lift), one
row per customer and month; every customer joins at their first purchase.
"""

import numpy as np
import pytest

from helpers.studies.loyalty.design import design_from_mapping
from helpers.studies.loyalty.engine import replay

ALWAYS_REDEEM = {"redemption_propensity": 1.0}


def design(**parts):
    raw = {"name": "tiny", "burn": {"point_value": 0.01, "redemption_threshold": 100}}
    for key, value in parts.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return design_from_mapping(raw, "tiny.yaml")


def test_points_are_spend_times_rate_and_members_join_at_their_first_purchase():
    d = design(earn={"points_per_currency": 2}, burn={"redemption_threshold": 10_000})
    out = replay(d, [0, 1, 2], [0.0, 30.0, 45.5])
    assert out["member"].tolist() == [False, True, True]
    assert out["points_earned"].tolist() == [0.0, 60.0, 91.0]
    assert out["balance"].tolist() == [0.0, 60.0, 151.0]


def test_redemption_takes_whole_blocks_at_a_purchase_from_the_opening_balance():
    d = design(earn={"points_per_currency": 1})
    # month 0 earns 250; month 1 has no purchase (no redemption); month 2 buys for 10:
    # opening balance 250 -> two blocks of 100 redeemed (2.00 off), then 10 earned -> 60 left
    out = replay(d, [1, 0, 1], [250.0, 0.0, 10.0], ALWAYS_REDEEM)
    assert out["points_redeemed"].tolist() == [0.0, 0.0, 200.0]
    assert out["reward_value"].tolist() == [0.0, 0.0, 2.0]
    assert out["reward_cost"].tolist() == [0.0, 0.0, 2.0]
    assert out["balance"].tolist() == [250.0, 250.0, 60.0]


def test_one_block_redemption_and_reward_cost_ratio():
    d = design(burn={"redeem": "one_block", "reward_cost_ratio": 0.6})
    out = replay(d, [1, 1], [250.0, 10.0], ALWAYS_REDEEM)
    assert out["points_redeemed"].tolist() == [0.0, 100.0]
    assert out["reward_cost"].iloc[1] == pytest.approx(0.6)  # 1.00 of reward at 60% of face value
    assert out["balance"].iloc[1] == 160.0


def test_redemption_propensity_zero_never_redeems():
    out = replay(design(), [1, 1, 1], [500.0, 10.0, 10.0], {"redemption_propensity": 0.0})
    assert out["points_redeemed"].sum() == 0


def test_points_expire_after_expiry_months():
    # earned in month 0, usable in months 1 and 2, expired at the end of month 2
    d = design(burn={"redemption_threshold": 10_000, "expiry_months": 2})
    out = replay(d, [1, 0, 0, 0], [100.0, 0.0, 0.0, 0.0])
    assert out["points_expired"].tolist() == [0.0, 0.0, 100.0, 0.0]
    assert out["balance"].tolist() == [100.0, 100.0, 0.0, 0.0]


def test_redemption_uses_the_oldest_points_first():
    # month 0 earns 80, month 1 earns 80; month 2 redeems one block of 100: 80 from month 0 and 20 from
    # month 1. Month 0's bucket is empty when it expires (end of month 2); month 1's 60 left expire at the
    # end of month 3. Spend in month 2 is 0.5 (half a point).
    d = design(burn={"expiry_months": 2, "redeem": "one_block"})
    out = replay(d, [1, 1, 1, 0], [80.0, 80.0, 0.5, 0.0], ALWAYS_REDEEM)
    assert out["points_redeemed"].tolist() == [0.0, 0.0, 100.0, 0.0]
    assert out["points_expired"].tolist() == [0.0, 0.0, 0.0, 60.0]
    assert out["balance"].tolist() == [80.0, 160.0, 60.5, 0.5]


def test_redemption_needs_a_full_block_even_with_expiring_points():
    d = design(burn={"expiry_months": 1})
    out = replay(d, [1, 1, 0], [60.0, 30.0, 0.0], ALWAYS_REDEEM)
    assert out["points_redeemed"].sum() == 0
    assert out["points_expired"].tolist() == [0.0, 60.0, 30.0]


TIERS = {
    "window_months": 3,
    "levels": [
        {"name": "bronze"},
        {"name": "silver", "qualify_spend": 150, "qualify_visits": 4, "benefits": {"discount_pct": 5}},
        {"name": "gold", "qualify_spend": 400, "benefits": {"discount_pct": 10, "free_returns": True,
                                                            "points_multiplier": 2}},
    ],
}


def test_tier_up_on_spend_in_the_window_and_benefits_from_the_next_month():
    d = design(tiers=TIERS, costs={"return_cost_per_order": 1.5}, burn={"redemption_threshold": 10_000})
    # spend 100 (bronze), 60 (window 160 -> silver at the end of month 1), 300 (window 460 -> gold)
    out = replay(d, [1, 1, 2, 1], [100.0, 60.0, 300.0, 100.0])
    assert out["tier"].tolist() == ["bronze", "silver", "gold", "gold"]
    assert out["tier_in_force"].tolist() == ["bronze", "bronze", "silver", "gold"]
    assert out["discount_cost"].tolist() == [0.0, 0.0, pytest.approx(15.0), pytest.approx(10.0)]
    assert out["returns_cost"].tolist() == [0.0, 0.0, 0.0, 1.5]
    assert out["points_earned"].tolist() == [100.0, 60.0, 300.0, 200.0]  # gold earns double


def test_tier_up_on_visits():
    d = design(tiers=TIERS)
    out = replay(d, [2, 2, 0], [10.0, 10.0, 0.0])  # 4 purchases in the window, spend only 20
    assert out["tier"].tolist() == ["bronze", "silver", "silver"]


def test_tier_down_when_the_window_falls_below_the_retention_share():
    tiers = {**TIERS, "window_months": 2, "retain_fraction": 0.5}
    d = design(tiers=tiers)
    # 160 -> silver; window (160, 0) keeps silver; window (0, 80): 80 >= 0.5 x 150 keeps silver;
    # window (80, 0): 80 still kept; window (0, 0): below 75 -> bronze
    out = replay(d, [1, 0, 1, 0, 0], [160.0, 0.0, 80.0, 0.0, 0.0])
    assert out["tier"].tolist() == ["silver", "silver", "silver", "silver", "bronze"]
    # without the retention share the member drops as soon as the window is below 150
    strict = replay(design(tiers={**tiers, "retain_fraction": 1.0}), [1, 0, 1, 0, 0], [160.0, 0.0, 80.0, 0.0, 0.0])
    assert strict["tier"].tolist() == ["silver", "silver", "bronze", "bronze", "bronze"]


def test_demotions_wait_for_the_review_month_but_upgrades_do_not():
    tiers = {**TIERS, "window_months": 1, "demotion_review_months": 3}
    out = replay(design(tiers=tiers), [1, 0, 0, 0, 1, 0], [200.0, 0.0, 0.0, 0.0, 500.0, 0.0])
    # silver at once; below threshold from month 1 but demoted only at the review (end of month index 2);
    # gold at once in month 4; demotion from gold waits for the next review (month index 5)
    assert out["tier"].tolist() == ["silver", "silver", "bronze", "bronze", "gold", "bronze"]


def test_triggers_bonus_points_free_shipping_and_coupon_next_month():
    d = design(
        burn={"redemption_threshold": 10_000},
        earn={"points_per_currency": 0},
        costs={"shipping_cost_per_order": 5.0, "shipped_order_share": 0.5},
        triggers=[
            {"name": "three", "when": {"purchases_in_month": 3}, "reward": {"bonus_points": 300, "cost": 0.5}},
            {"name": "ship", "when": {"spend_in_month": 100}, "reward": {"free_shipping_next_month": True}},
            {"name": "coupon", "when": {"spend_in_month": 60}, "reward": {"coupon_value": 3.0}},
        ],
    )
    out = replay(d, [3, 2, 1, 0], [90.0, 120.0, 20.0, 0.0])
    assert out["points_earned"].tolist() == [300.0, 0.0, 0.0, 0.0]  # 3 purchases in month 0 only
    # month 0: group-buy perk 0.50; month 1: coupon from month 0 used (3.00); month 2: coupon from month 1 (3.00)
    # plus free shipping unlocked by spending 120 in month 1: 1 order x 5.00 x 50% shipped = 2.50
    assert out["trigger_cost"].tolist() == [0.5, 3.0, 5.5, 0.0]
    assert out["shipping_cost"].tolist() == [0.0, 0.0, 0.0, 0.0]  # shipping as a tier benefit only


def test_free_shipping_as_a_member_benefit_costs_every_shipped_order():
    d = design(member_benefits={"free_shipping": True}, costs={"shipping_cost_per_order": 4.0, "shipped_order_share": 0.75})
    out = replay(d, [2, 0, 1], [50.0, 0.0, 20.0])
    assert out["shipping_cost"].tolist() == [6.0, 0.0, 3.0]  # orders x 4.00 x 75%
    assert out["trigger_cost"].sum() == 0


def test_coupon_is_lost_without_a_purchase_next_month():
    d = design(triggers=[{"when": {"spend_in_month": 60}, "reward": {"coupon_value": 3.0}}])
    out = replay(d, [1, 0, 1], [80.0, 0.0, 10.0])
    assert out["trigger_cost"].tolist() == [0.0, 0.0, 0.0]


def test_birthday_month_doubles_points_only_for_levels_that_have_it():
    d = design(member_benefits={"birthday_double_points": True}, burn={"redemption_threshold": 10_000})
    out = replay(d, [1, 1, 1], [10.0, 10.0, 10.0], birthday_month=1)
    assert out["points_earned"].tolist() == [10.0, 20.0, 10.0]
    plain = replay(design(burn={"redemption_threshold": 10_000}), [1, 1, 1], [10.0, 10.0, 10.0], birthday_month=1)
    assert plain["points_earned"].tolist() == [10.0, 10.0, 10.0]


def test_activity_points_are_capped_and_start_after_joining():
    d = design(earn={"points_per_currency": 0, "activities": {"check_in": {"points": 2, "monthly_cap": 5}}},
               burn={"redemption_threshold": 10_000})
    out = replay(d, [0, 1, 0], [0.0, 5.0, 0.0], {"activity_rates": {"check_in": 200.0}})
    assert out["points_earned"].tolist() == [0.0, 10.0, 10.0]  # cap binds: P(Poisson(200) < 5) ~ 1e-80


def test_membership_costs_and_several_customers_at_once():
    d = design(costs={"per_member_month": 0.1, "per_new_member": 1.0}, burn={"redemption_threshold": 10_000})
    out = replay(d, [[1, 0, 0], [0, 0, 1]], [[10.0, 0.0, 0.0], [0.0, 0.0, 10.0]])
    first, second = out[out["customer"] == 0], out[out["customer"] == 1]
    assert first["member_cost"].tolist() == [0.1, 0.1, 0.1] and first["enrolment_cost"].tolist() == [1.0, 0.0, 0.0]
    assert second["member_cost"].tolist() == [0.0, 0.0, 0.1] and second["enrolment_cost"].tolist() == [0.0, 0.0, 1.0]
    assert np.allclose(out["points_earned"].sum(), 20.0)
