"""Omnichannel: orders, mix, migration and store/online crossing by hand; the generator's truth."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.tables_io import load_transactions
from helpers.errors import DataError
from helpers.studies.omnichannel import analysis as om

DATA = Path(__file__).resolve().parents[1] / "data" / "newretail"
END = pd.Timestamp("2024-01-31")


def lines(rows):
    """rows: (customer, order_id, day of January 2024, hour, channel, amount)"""
    return pd.DataFrame(
        [(c, o, pd.Timestamp(2024, 1, d, h), ch, float(a)) for c, o, d, h, ch, a in rows],
        columns=["customer_id", "order_id", "timestamp", "channel", "amount"],
    )


@pytest.fixture
def small():
    return lines(
        [
            # c1: store first; another order the same day online (not "later"); later store again
            ("c1", "o1", 1, 10, "store", 50), ("c1", "o1", 1, 10, "store", 30),  # two lines of one order
            ("c1", "o2", 1, 20, "online_mall", 20),
            ("c1", "o3", 5, 11, "store", 40),
            # c2: store first, later app and mini-program
            ("c2", "o4", 2, 9, "store", 10), ("c2", "o5", 4, 9, "app", 10), ("c2", "o6", 5, 9, "mini_program", 10),
            # c3: app first, later store and app
            ("c3", "o7", 1, 8, "app", 100), ("c3", "o8", 2, 8, "store", 100), ("c3", "o9", 3, 8, "app", 100),
            # c4: one app order only
            ("c4", "o10", 10, 8, "app", 60),
        ]
    )


def test_orders_group_lines_and_take_the_first_lines_channel(small):
    orders = om.orders_from_transactions(small, END)
    assert len(orders) == 10
    o1 = orders.set_index("order").loc["o1"]
    assert o1["amount"] == 80 and o1["channel"] == "store"


def test_rows_without_order_ids_are_orders_of_their_own(small):
    frame = small.drop(columns="order_id")
    assert len(om.orders_from_transactions(frame, END)) == len(small)


def test_channel_mix_by_hand(small):
    mix = om.channel_mix(om.orders_from_transactions(small, END)).set_index("channel")
    assert mix.loc["store", "orders"] == 4 and mix.loc["app", "orders"] == 4
    assert mix.loc["store", "revenue"] == 80 + 40 + 10 + 100
    assert mix.loc["app", "customers"] == 3 and mix.loc["app", "customer_share"] == 0.75
    assert mix["order_share"].sum() == pytest.approx(1.0)
    assert mix.loc["store", "average_order_value"] == pytest.approx(230 / 4)


def test_channel_migration_by_hand(small):
    mg = om.channel_migration(om.orders_from_transactions(small, END))
    counts = mg.counts
    assert counts.loc["store"].to_dict() == {"app": 1, "mini_program": 1, "online_mall": 0, "store": 1}
    assert counts.loc["app"].to_dict() == {"app": 1, "mini_program": 0, "online_mall": 0, "store": 1}
    assert mg.first.to_dict() == {"app": 2, "mini_program": 0, "online_mall": 0, "store": 2}
    assert mg.repeat.to_dict() == {"app": 1, "mini_program": 0, "online_mall": 0, "store": 2}
    assert mg.stayed.to_dict() == {"app": 0, "mini_program": 0, "online_mall": 0, "store": 1}  # c1 stayed in store
    assert mg.shares.loc["store", "app"] == 0.5
    top = mg.paths.iloc[0]
    assert (top["first_channel"], top["customers"]) == ("app", 1)  # ties sorted by name: app -> store
    assert set(zip(mg.paths["first_channel"], mg.paths["later_channel"])) == {
        ("store", "app"), ("store", "mini_program"), ("app", "store")
    }


def test_online_offline_crossing_by_hand(small):
    orders = om.orders_from_transactions(small, END)
    per = om.customer_channels(orders, END)
    crossing, value = om.online_offline(orders, per, ["store"])
    c = crossing.set_index("first_mode")
    assert c.loc["offline"].to_dict() == {
        "customers": 2, "repeat_buyers": 2, "crossed": 1, "crossed_share": 0.5, "median_days_to_cross": 2.0
    }  # c2 went online two days after the first purchase; c1's same-day online order does not count
    assert (c.loc["online", "repeat_buyers"], c.loc["online", "crossed"], c.loc["online", "median_days_to_cross"]) == (1, 1, 1.0)
    v = value.set_index("segment")
    assert v.loc["later_online", "customers"] == 1 and v.loc["offline_only", "customers"] == 1
    # c2: 3 purchase days observed from Jan 2 to Jan 31 inclusive = 30 days
    assert v.loc["later_online", "purchase_days_per_year"] == pytest.approx(3 / (30 / om.DAYS_PER_YEAR))


def test_unknown_offline_channel_is_explained(small):
    orders = om.orders_from_transactions(small, END)
    with pytest.raises(DataError, match=r"none of the offline channels \['shop'\] occurs.*offline_channels"):
        om.online_offline(orders, om.customer_channels(orders, END), ["shop"])


def test_single_vs_multi_rates_are_ratios_of_sums(small):
    per = om.customer_channels(om.orders_from_transactions(small, END), END)
    assert per["channels_used"].to_dict() == {"c1": 2, "c2": 3, "c3": 2, "c4": 1}
    groups = om.single_vs_multi(per).set_index(["population", "group"])
    multi = groups.loc[("all", "multi")]
    years = (31 + 30 + 31) / om.DAYS_PER_YEAR  # c1, c2, c3 observed from their first day to Jan 31
    assert multi["customers"] == 3
    assert multi["purchase_days_per_year"] == pytest.approx((2 + 3 + 3) / years)
    assert multi["spend_per_purchase_day"] == pytest.approx((140 + 30 + 300) / 8)
    assert groups.loc[("repeat", "single"), "customers"] == 0  # c4 is the only single-channel customer


def test_frequency_bands_by_hand(small):
    per = om.customer_channels(om.orders_from_transactions(small, END), END)
    bands = om.by_frequency_band(per, bands=(1, 3)).set_index("purchase_days")
    assert bands.loc["1–2", "customers"] == 2 and bands.loc["1–2", "multi_share"] == 0.5  # c1 (2 days), c4
    assert bands.loc["3+", "customers"] == 2 and bands.loc["3+", "multi_share"] == 1.0


@pytest.fixture(scope="module")
def generated():
    loaded = load_transactions(DATA / "transactions.csv", notebook="test", observation_end="2024-12-31")
    return om.run_omnichannel_study(loaded.transactions, "2024-12-31", include_clv=True)


def test_multichannel_customers_buy_more_often_but_not_bigger_baskets_as_generated(generated):
    # data/README: frequent buyers (high lambda) use more channels; spend per purchase day is
    # Gamma-Gamma and does not depend on the channels.
    g = generated.groups[generated.groups["population"] == "repeat"].set_index("group")
    assert g.loc["multi", "purchase_days_per_year"] > 1.3 * g.loc["single", "purchase_days_per_year"]
    ratio = g.loc["multi", "spend_per_purchase_day"] / g.loc["single", "spend_per_purchase_day"]
    assert 0.9 < ratio < 1.1
    assert g.loc["multi", "clv_mean"] > g.loc["single", "clv_mean"]
    truth = pd.read_csv(DATA / "truth_customers.csv", index_col="customer_id")
    lam = truth["lambda_per_day"].reindex(generated.per_customer.index)
    assert lam[generated.per_customer["group"] == "multi"].mean() > 1.5 * lam[generated.per_customer["group"] == "single"].mean()


def test_generated_mix_follows_the_configured_channel_mix(generated):
    # Orders are drawn from customer-specific weights around the channel mix (store .40, mini_program .22, ...).
    mix = generated.mix.set_index("channel")["order_share"]
    assert mix.idxmax() == "store" and mix["store"] == pytest.approx(0.40, abs=0.06)
    assert mix["mini_program"] == pytest.approx(0.22, abs=0.05)
    first = generated.migration.first
    customers = pd.read_csv(DATA / "customers.csv", index_col="customer_id")
    assert first.to_dict() == customers["join_channel"].value_counts().reindex(first.index, fill_value=0).to_dict()


def test_clv_is_present_and_positive(generated):
    assert generated.clv_info["model_label"] == "BG/NBD"
    clv = generated.per_customer["clv"]
    assert clv.notna().all() and (clv >= 0).all()
    assert np.isfinite(generated.clv_info["holdout_total_error_pct"])


def test_every_text_table_and_figure_works_on_small_tables(small):
    import matplotlib.pyplot as plt

    from helpers.studies.omnichannel import figures as omni_figures
    from helpers.studies.omnichannel import narrative as omni_narrative

    single_repeat = lines([("c5", "o11", 3, 9, "store", 25), ("c5", "o12", 6, 9, "store", 35)])
    assert "Every repeat buyer is multi-channel" in omni_narrative.groups(om.run_omnichannel_study(small, END, include_clv=False), "¥")
    small = pd.concat([small, single_repeat], ignore_index=True)
    study = om.run_omnichannel_study(small, END, include_clv=True)  # 5 customers: the CLV models cannot be fitted
    assert "clv" not in study.per_customer and study.clv_info["error"]
    texts = [omni_narrative.headline(study, "¥"), omni_narrative.actions(study, "¥"), omni_narrative.mix(study, "¥"),
             omni_narrative.monthly_share(study), omni_narrative.groups(study, "¥"), omni_narrative.bands(study, "¥"),
             omni_narrative.migration(study), omni_narrative.online_offline(study, "¥"),
             omni_narrative.method(study, returns_policy="drop", include_clv=True), omni_narrative.data_summary(study)]
    assert "CLV is not shown" in omni_narrative.groups(study, "¥")
    for view in (omni_narrative.mix_view(study, "¥"), omni_narrative.groups_view(study, "¥"),
                 omni_narrative.bands_view(study, "¥"), omni_narrative.paths_view(study), omni_narrative.crossing_view(study)):
        view.to_html()
    for fig in (omni_figures.channel_mix(study.mix), omni_figures.monthly_share(study.monthly_share),
                omni_figures.single_vs_multi(study.groups, "¥"), omni_figures.migration_heatmap(study.migration),
                omni_figures.online_offline(study.crossing)):
        plt.close(fig)
    assert not [t for t in texts if "nan" in t]


def test_every_text_table_and_figure_in_chinese(small):
    import re

    import matplotlib.pyplot as plt

    from helpers.studies.omnichannel import figures as omni_figures
    from helpers.studies.omnichannel import narrative as omni_narrative

    zh = "zh-CN"
    single_repeat = lines([("c5", "o11", 3, 9, "store", 25), ("c5", "o12", 6, 9, "store", 35)])
    assert "所有复购客户都是多渠道客户" in omni_narrative.groups(om.run_omnichannel_study(small, END, include_clv=False), "¥", zh)
    study = om.run_omnichannel_study(pd.concat([small, single_repeat], ignore_index=True), END, include_clv=True)
    texts = [omni_narrative.title(zh), omni_narrative.headline(study, "¥", zh), omni_narrative.actions(study, "¥", zh),
             omni_narrative.mix(study, "¥", zh), omni_narrative.monthly_share(study, zh),
             omni_narrative.groups(study, "¥", zh), omni_narrative.bands(study, "¥", zh), omni_narrative.migration(study, zh),
             omni_narrative.online_offline(study, "¥", zh),
             omni_narrative.method(study, returns_policy="drop", include_clv=True, language=zh),
             omni_narrative.data_summary(study, zh)]
    assert not [t for t in texts if "nan" in t]
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    assert "门店贡献了" in texts[1] and "Store" not in texts[1]
    assert "未展示 CLV" in omni_narrative.groups(study, "¥", zh)
    html = "".join(v.to_html() for v in (
        omni_narrative.mix_view(study, "¥", zh), omni_narrative.groups_view(study, "¥", zh),
        omni_narrative.bands_view(study, "¥", zh), omni_narrative.paths_view(study, language=zh),
        omni_narrative.crossing_view(study, zh)))
    for word in ("渠道", "门店", "小程序", "复购客户", "单渠道", "线下（门店）"):
        assert word in html, word
    assert "Channel" not in html and "Mini-program" not in html
    figures = [omni_figures.channel_mix(study.mix, zh), omni_figures.monthly_share(study.monthly_share, zh),
               omni_figures.single_vs_multi(study.groups, "¥", zh), omni_figures.migration_heatmap(study.migration, zh),
               omni_figures.online_offline(study.crossing, zh)]
    for fig in figures:
        words = [t.get_text() for t in fig.findobj(plt.Text)]
        assert not [w for w in words if re.search(r"[A-Za-z]{3}", w) and "App" not in w], words
        plt.close(fig)
