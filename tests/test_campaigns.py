"""Campaign readout: hand computations and recovery of the generator's planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.data import campaigns as K
from helpers.data.generator import GeneratorConfig, generate
from helpers.data.generator.campaigns import PLANTED_UPLIFT
from helpers.studies.campaigns import analysis as A


def _coupons():
    # campaign X: 4 treated (2 buy, 1 redeems at 20), 4 holdout (1 buys)
    return pd.DataFrame({
        "customer_id": list("ABCDEFGH"), "campaign_id": "X", "segment": ["s1"] * 4 + ["s2"] * 4,
        "group": ["treatment", "treatment", "holdout", "holdout", "treatment", "treatment", "holdout", "holdout"],
        "converted": [True, False, True, False, True, False, False, False],
        "coupon_type": "wake_up", "coupon_value": 20.0,
        "redeemed_at": pd.to_datetime(["2024-01-02", None, None, None, None, None, None, None]),
        "issued_at": pd.Timestamp("2024-01-01"),
    })


def test_funnel_by_hand():
    f = A.funnel(_coupons()).iloc[0]
    assert f["treated"] == 4 and f["holdout"] == 4 and f["redeemed"] == 1
    assert f["conversion_treated"] == pytest.approx(0.5) and f["conversion_holdout"] == pytest.approx(0.25)
    assert f["uplift"] == pytest.approx(0.25)
    assert f["incremental_buyers"] == pytest.approx(1.0)  # 0.25 x 4 treated
    assert f["coupon_cost"] == pytest.approx(20.0) and f["cost_per_incremental_order"] == pytest.approx(20.0)
    assert f["cannibalised_share"] == pytest.approx(0.0)  # 1 redemption, 1 incremental buyer
    # Welch interval of two 0/1 groups: se = sqrt(.5*.5/3 *... ) by hand
    se = np.sqrt(np.var([1, 0, 1, 0], ddof=1) / 4 + np.var([1, 0, 0, 0], ddof=1) / 4)
    assert (f["uplift_high"] - f["uplift_low"]) / 2 > 1.96 * se  # t quantile with few df is wider than z
    by = A.funnel(_coupons(), "segment").set_index("group")
    assert by.loc["s1", "uplift"] == pytest.approx(0.0) and by.loc["s2", "uplift"] == pytest.approx(0.5)


def test_qini_curve_by_hand():
    score = np.array([4, 3, 2, 1.0])
    treated = np.array([1, 0, 1, 0])
    y = np.array([1, 0, 0, 1])
    c = A.qini_curve(score, treated, y, points=4)
    # k=1: no holdout yet -> 0; k=2: 1 - 0*1/1 = 1; k=3: 1 - 0*2/1 = 1; k=4: 1 - 1*2/2 = 0
    assert c["qini"].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert c["random"].tolist() == [0.0] * 5
    # trapezoids of width 1/4: (0+0)/2 + (0+1)/2 + (1+1)/2 + (1+0)/2 = 2, times 1/4
    assert A.qini_gain(c) == pytest.approx(0.5)


def test_logistic_without_penalty_reproduces_group_rates():
    # one binary feature: the maximum-likelihood fit predicts each group's own share
    x = np.array([[0], [0], [0], [0], [1], [1], [1], [1], [1]], dtype=float)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0, 1], dtype=float)
    beta = A.fit_logistic(x, y, ridge=0.0)
    p = A.predict_logistic(beta, np.array([[0.0], [1.0]]))
    assert p == pytest.approx([0.25, 0.8], abs=1e-8)
    assert beta[1] == pytest.approx(np.log(0.8 / 0.2) - np.log(0.25 / 0.75), abs=1e-7)


def test_message_experiment_by_hand():
    m = pd.DataFrame({
        "customer_id": list("ABCDEF"), "variant": ["personalised"] * 3 + ["broadcast"] * 3,
        "sent_at": pd.Timestamp("2024-01-01"),
        "opened_at": pd.to_datetime(["2024-01-01", "2024-01-01", None, "2024-01-01", None, None]),
        "clicked_at": pd.to_datetime(["2024-01-01", None, None, None, None, None]),
        "purchased": [True, False, False, False, False, True],
    })
    r = A.message_experiment(m).set_index("metric")
    assert r.loc["open", "personalised"] == pytest.approx(2 / 3) and r.loc["open", "broadcast"] == pytest.approx(1 / 3)
    assert r.loc["click", "difference"] == pytest.approx(1 / 3)
    assert r.loc["open", "ratio"] == pytest.approx(2.0)
    assert r.loc["purchase", "difference"] == pytest.approx(0.0)


def test_features_by_hand():
    tx = pd.DataFrame({"customer_id": ["A", "A", "A", "B"], "order_id": list("1234"),
                       "timestamp": pd.to_datetime(["2023-01-01", "2023-06-01", "2023-12-22", "2024-02-01"]),
                       "amount": [10.0, 30.0, 50.0, 5.0]})
    coupons = pd.DataFrame({"customer_id": ["A", "B"], "issued_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 00:00"])})
    f = A.pre_campaign_features(coupons, tx)
    # the window is the 365 days before the issue day: 2023-01-01 (365 days before) is in it
    assert f.loc[0, "recency_days"] == 10 and f.loc[0, "purchase_days_365"] == 3
    assert f.loc[0, "spend_per_day_365"] == pytest.approx(30.0) and f.loc[0, "tenure_days"] == 365
    assert f.loc[0, "purchase_days_90"] == 1
    assert f.loc[1].tolist() == [999.0, 0.0, 0.0, 0.0, 0.0]  # B bought after the issue day only


@pytest.fixture(scope="module")
def big():
    data = generate(GeneratorConfig(n_customers=6000, seed=7, campaigns=True))
    coupons = K.coupons_from_frame(data.extras["coupons"]).table
    messages = K.messages_from_frame(data.extras["messages"]).table
    return data, A.run_campaign_study(coupons, messages, data.purchases())


def test_segment_uplift_intervals_cover_the_planted_uplift(big):
    # 95% simultaneous (Bonferroni over the 5 segments) intervals cover every planted value
    _, study = big
    table = study.segments.table.set_index("segment")
    assert set(table.index) == set(PLANTED_UPLIFT)
    for segment, planted in PLANTED_UPLIFT.items():
        row = table.loc[segment]
        assert row["ci_low_simultaneous"] <= planted <= row["ci_high_simultaneous"], segment
    # the clear cases are called: at-risk send, premium (negative) not
    assert table.loc["at_risk", "decision"] == A.SEND
    assert table.loc["premium", "decision"] == A.STOP


def test_uplift_model_qini_beats_random_by_the_stated_margin(big):
    _, study = big
    model = study.model
    c = study.coupons
    test = model.scores["test"].to_numpy()
    # oracle: rank the same holdout customers by the planted segment uplift
    oracle = A.qini_curve(c["segment"].map(PLANTED_UPLIFT).to_numpy()[test],
                          (c["group"] == "treatment").to_numpy()[test], c["converted"].to_numpy()[test])
    oracle_gain = A.qini_gain(oracle)
    assert oracle_gain > 0
    # stated margin: the model's area over random is at least half the oracle's, and at
    # least 5 incremental buyers per 1,000 holdout customers
    assert model.gain >= 0.5 * oracle_gain
    assert model.gain_per_1000 >= 5.0
    assert model.n_test > 0.2 * len(c)


def test_cannibalisation_and_messages_match_the_truth(big):
    data, study = big
    truth = data.truth["campaigns"]
    o = study.overall.iloc[0]
    # share of redemptions by customers who would have bought anyway, estimated from the holdout
    realised = truth["coupons"]["share_of_redemptions_by_customers_who_would_have_bought"]
    low = 1 - o["uplift_high"] * o["treated"] / o["redeemed"]
    high = 1 - o["uplift_low"] * o["treated"] / o["redeemed"]
    assert low <= realised <= high
    m = study.messages.set_index("metric")
    planted = truth["messages"]
    for metric, rates in (("open", planted["open_rate"]), ("click", planted["click_rate"])):
        diff = rates["personalised"] - rates["broadcast"]
        assert m.loc[metric, "ci_low"] <= diff <= m.loc[metric, "ci_high"], metric
    assert m.loc["click", "ratio_low"] > 1.5  # personalised messages roughly double clicks


def test_names_from_the_data_are_escaped_on_the_page():
    from helpers.studies.campaigns import tables as CT

    coupons = _coupons().assign(segment=["<b>x</b>"] * 4 + ["s2"] * 4)
    study = A.run_campaign_study(coupons)
    html = CT.segments_view(study).to_html()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_a_file_with_only_the_required_columns_still_reads_out():
    from helpers.studies.campaigns import narrative as CN
    from helpers.studies.campaigns import tables as CT

    rng = np.random.default_rng(1)
    n = 400
    coupons = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "campaign_id": "X",
                            "group": np.where(rng.random(n) < 0.5, "treatment", "holdout"),
                            "converted": rng.random(n) < 0.2})
    study = A.run_campaign_study(K.coupons_from_frame(coupons).table)
    assert study.segments.table["segment"].tolist() == ["all"] and study.messages is None
    for lang in ("en", "zh-CN"):
        assert CN.headline(study, lang) and CN.actions(study, lang) and CN.messages_text(study, lang)
        html = CT.funnel_view(study.by_type, "coupon_type", lang).to_html()
        assert ("全部客户" if lang == "zh-CN" else "All customers") in html


def test_the_triggers_uplift_is_the_full_studys_without_the_model(big):
    data, study = big
    coupons = K.coupons_from_frame(data.extras["coupons"]).table
    uplift = A.campaign_uplift(coupons, data.purchases())
    assert uplift == A.measured_uplift(study) and len(uplift) > 2
    assert A.campaign_uplift(coupons.iloc[::2], data.purchases()) != uplift  # from the coupons given
