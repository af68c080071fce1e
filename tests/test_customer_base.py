"""Customer base: lifecycle rules at their boundaries, repeat curves and cohorts by hand, and the generator's truth."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.tables_io import load_transactions, read_customers
from helpers.errors import ConfigError
from helpers.studies.customer_base import analysis as cb

END = pd.Timestamp("2024-12-31")
DATA = Path(__file__).resolve().parents[1] / "data" / "newretail"


def tx(rows):
    """rows: (customer, days before END, amount[, hour])"""
    out = []
    for row in rows:
        customer, ago, amount = row[:3]
        hour = row[3] if len(row) > 3 else 12
        out.append((customer, END - pd.Timedelta(days=ago) + pd.Timedelta(hours=hour), float(amount)))
    return pd.DataFrame(out, columns=["customer_id", "timestamp", "amount"])


@pytest.fixture
def boundary_base():
    rows = [
        ("new_at_limit", 90, 10),  # first = last purchase exactly 90 days ago: new (at most 90), not lapsing (more than 90)
        ("lapsing_91", 91, 10),
        ("lapsing_180", 180, 10),  # more than 90 but not more than 180 days ago
        ("churned_181", 181, 10),
        # loyal at the window boundary: purchase days 365, 200, 100, 10 days ago are 4 within "at most 365 days"
        *[("loyal_4", d, 10) for d in (400, 365, 200, 100, 10)],
        # one day outside: 366 does not count, so only 3 in the window
        *[("active_3", d, 10) for d in (400, 366, 200, 100, 10)],
        # new beats loyal: five purchase days in the last 60 days, first 60 days ago
        *[("new_frequent", d, 10) for d in (60, 45, 30, 15, 1)],
        # two orders on one day are one purchase day: 4 rows but 3 purchase days, so active not loyal
        ("same_day", 300, 10, 9), ("same_day", 300, 5, 18), ("same_day", 200, 10), ("same_day", 20, 10),
    ]
    customers = pd.DataFrame({"customer_id": ["prospect_only", "new_at_limit"], "join_date": [END - pd.Timedelta(days=10), pd.NaT]})
    return cb.build_customer_base(tx(rows), "2024-12-31", customers=customers)


def test_lifecycle_stages_at_their_boundaries(boundary_base):
    stage = boundary_base.facts["stage"].astype(str).to_dict()
    assert stage == {
        "new_at_limit": "new",
        "lapsing_91": "lapsing",
        "lapsing_180": "lapsing",
        "churned_181": "churned",
        "loyal_4": "loyal",
        "active_3": "active",
        "new_frequent": "new",
        "same_day": "active",
        "prospect_only": "prospect",
    }


def test_same_day_orders_are_one_purchase_day_and_spend_is_summed(boundary_base):
    row = boundary_base.facts.loc["same_day"]
    assert row["purchase_days"] == 3 and row["spend"] == 35.0
    assert boundary_base.facts.loc["prospect_only", "purchase_days"] == 0


def test_stage_table_adds_up(boundary_base):
    st = boundary_base.stages.set_index("stage")
    assert st["customers"].sum() == 9
    assert st.loc["lapsing", "customers"] == 2
    assert st["customer_share"].sum() == pytest.approx(1.0)
    assert st.loc["loyal", "spend"] == 50.0


def test_rules_are_validated():
    with pytest.raises(ConfigError, match=r"^lifecycle rules: churned_after_days = 120: must be larger than lapsing_after_days \(120\)"):
        cb.LifecycleRules(lapsing_after_days=120, churned_after_days=120)
    with pytest.raises(ConfigError, match=r"^lifecycle rules: loyal_min_purchases = 0: expected a value >= 1$"):
        cb.LifecycleRules(loyal_min_purchases=0)


def test_repeat_curve_counts_by_hand():
    rows = [
        ("a", 100, 1), ("a", 70, 1),  # second purchase 30 days after the first: within month 1 (30 days, inclusive)
        ("b", 100, 1), ("b", 69, 1),  # 31 days: month 2
        ("c", 100, 1),  # never again
        ("d", 59, 1), ("d", 30, 1),  # watched 59 days: counts at month 1 only; repeated after 29 days
    ]
    base = cb.build_customer_base(tx(rows), END, cohort_months=4)
    curve = base.curves[base.curves["cohort"] == "all"].set_index("month")
    assert curve["eligible"].tolist() == [4, 3, 3, 0]  # a, b, c watched 100 days (>= 90), d 59 days
    assert curve["repeated"].tolist() == [2, 2, 2, 0]  # month 1: a and d; months 2-3: a and b
    assert curve["share"].iloc[:3].tolist() == pytest.approx([0.5, 2 / 3, 2 / 3])
    assert np.isnan(curve["share"].iloc[3])


def test_cohorts_come_from_the_member_file_and_fall_back_to_the_first_purchase():
    rows = [("a", 100, 1), ("b", 100, 1), ("c", 40, 1)]
    customers = pd.DataFrame({"customer_id": ["a", "b"], "join_date": pd.to_datetime(["2024-03-15", pd.NaT])})
    base = cb.build_customer_base(tx(rows), END, customers=customers)
    cohort = base.facts["cohort"].astype(str).to_dict()
    assert cohort == {"a": "2024-03", "b": "2024-09", "c": "2024-11"}  # b: first purchase 2024-09-22
    checks = dict(zip(base.checks["reason"], base.checks["rows"]))
    assert checks["buyers missing from the customers file (first purchase used as join)"] == 1


def test_spend_distribution_by_hand():
    rows = [(f"c{i}", 10, v) for i, v in enumerate([100, 50, 30, 20, 10, 10, 10, 10, 5, 5])] + [("old", 400, 999)]
    base = cb.build_customer_base(tx(rows), END, spend_window_days=365)
    sp = base.spend
    assert sp["buyers_in_window"] == 10  # "old" bought 400 days ago
    assert sp["window_spend"] == 250
    assert sp["top10_share"] == pytest.approx(100 / 250)
    assert sp["top20_share"] == pytest.approx(150 / 250)
    assert sp["median_per_customer"] == 10


def test_late_repeat_share_by_hand():
    rows = [("a", 400, 1), ("a", 350, 1), ("b", 400, 1), ("b", 200, 1), ("c", 400, 1), ("d", 200, 1), ("d", 190, 1)]
    late = cb.late_repeat(cb.build_customer_base(tx(rows), END).facts, END, 3, 12)
    # watched 360+ days: a, b, c; a came back within 90 days; of b and c, b came back (200 days) by month 12
    assert (late["customers"], late["came_back"]) == (2, 1)


@pytest.fixture(scope="module")
def generated():
    loaded = load_transactions(DATA / "transactions.csv", notebook="test", observation_end="2024-12-31")
    members = read_customers(DATA / "customers.csv")
    return cb.build_customer_base(loaded.transactions, "2024-12-31", customers=members.table)


def test_generated_data_join_is_the_first_purchase(generated):
    checks = dict(zip(generated.checks["reason"], generated.checks["rows"]))
    assert checks["join date after the first purchase (join date kept)"] == 0
    facts = generated.facts
    assert (facts["join_date"] == facts["first_purchase"]).all()  # data/README: join day = day of the first purchase
    assert generated.metrics["cohorts"] == 24 and generated.metrics["buyers"] == 3000


def test_churned_stage_agrees_with_the_generators_truth(generated):
    truth = pd.read_csv(DATA / "truth_customers.csv", index_col="customer_id")
    stage = generated.facts["stage"].astype(str)
    dead = ~truth["alive_at_end"].reindex(stage.index)
    churned_among_dead = (stage[dead] == "churned").mean()
    churned_among_alive = (stage[~dead] == "churned").mean()
    # A recency rule cannot see slow buyers who are alive, but dropouts must be far more often "churned".
    assert churned_among_dead > 0.55 and churned_among_dead > 1.8 * churned_among_alive
    # Loyal customers have the highest true purchase rate.
    rate = truth["lambda_per_day"].reindex(stage.index).groupby(stage).mean()
    assert rate.idxmax() == "loyal"


def test_every_text_table_and_figure_works_on_small_tables(boundary_base):
    import matplotlib.pyplot as plt

    from helpers.studies.customer_base import figures as base_figures
    from helpers.studies.customer_base import narrative as base_narrative

    b = boundary_base
    texts = [base_narrative.headline(b, "¥"), base_narrative.actions(b, "¥"), base_narrative.cohorts(b),
             base_narrative.repeat_curves(b), base_narrative.stage_rules(b.rules), base_narrative.stages(b),
             base_narrative.spend(b, "$"), base_narrative.data_summary(b),
             base_narrative.method(b, returns_policy="drop", has_customers_file=True, cohort_months=12)]
    assert not any("nan" in text for text in texts)
    assert "\\$" in base_narrative.spend(b, "$")  # dollar amounts are escaped for Markdown
    for view in (base_narrative.cohort_view(b, "¥"), base_narrative.stage_view(b, "¥"), base_narrative.spend_view(b, "¥")):
        view.to_html()
    for fig in (base_figures.cohort_heatmap(b.curves), base_figures.repeat_curves(b.curves, cb.quarterly_curves(b.curves)),
                base_figures.stage_bars(b.stages), base_figures.spend_histogram(b.spend["per_customer"], "¥", 365)):
        plt.close(fig)


def test_every_text_table_and_figure_in_chinese(boundary_base):
    import re

    import matplotlib.pyplot as plt

    from helpers.studies.customer_base import figures as base_figures
    from helpers.studies.customer_base import narrative as base_narrative

    b, zh = boundary_base, "zh-CN"
    texts = [base_narrative.title(zh), base_narrative.headline(b, "¥", zh), base_narrative.actions(b, "¥", zh),
             base_narrative.cohorts(b, zh), base_narrative.repeat_curves(b, zh), base_narrative.stage_rules(b.rules, zh),
             base_narrative.stages(b, zh), base_narrative.spend(b, "¥", zh), base_narrative.data_summary(b, zh),
             base_narrative.method(b, returns_policy="drop", has_customers_file=True, cohort_months=12, language=zh)]
    assert not any("nan" in t for t in texts)
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    assert "超过 180 天" in base_narrative.stage_rules(b.rules, zh) and "Lapsed" not in base_narrative.stage_rules(b.rules, zh)
    assert "**沉睡客户**" in base_narrative.stage_rules(b.rules, zh)
    assert "¥" in base_narrative.spend(b, "¥", zh) and "万" in base_narrative.headline(
        cb.build_customer_base(tx([("big", 10, 123_456)]), "2024-12-31"), "¥", zh)  # amounts in 万
    assert set(base_narrative.headline_numbers(b, "¥", zh)) == {"客户数", "3 个月内复购", "忠诚客户", "沉睡客户"}
    html = "".join(v.to_html() for v in (base_narrative.cohort_view(b, "¥", zh), base_narrative.stage_view(b, "¥", zh),
                                         base_narrative.spend_view(b, "¥", zh)))
    for header in ("加入月份", "阶段", "潜在客户", "百分位", "中位数"):
        assert header in html, header
    assert "Join month" not in html and "Stage" not in html
    figures = [base_figures.cohort_heatmap(b.curves, language=zh),
               base_figures.repeat_curves(b.curves, cb.quarterly_curves(b.curves), zh),
               base_figures.stage_bars(b.stages, zh), base_figures.spend_histogram(b.spend["per_customer"], "¥", 365, zh)]
    for fig in figures:
        words = [t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label)] + [
            t.get_text() for ax in fig.axes for t in ax.get_yticklabels() if not re.match(r"^[\d.,%\-Q]*$", t.get_text())]
        assert not [w for w in words if re.search(r"[A-Za-z]{3}", w)], words
        plt.close(fig)
