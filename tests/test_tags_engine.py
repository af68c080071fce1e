"""The tag engine on hand-made data: every expected value is counted by hand."""

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.studies.tags.engine import (
    SCORE_PRIOR_ORDERS,
    TagInputs,
    library_from_mapping,
    load_library,
    tag_lists,
)

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "discount", "promotion", "channel", "category",
                                       "order_id"]).assign(timestamp=lambda d: pd.to_datetime(d["timestamp"]))


TX = tx([
    ("A", "2024-01-05 10:00", 100.0, 0.0, "", "store", "home", "o1"),
    ("A", "2024-02-10 10:00", 50.0, 10.0, "618", "app", "beauty", "o2"),
    ("A", "2024-03-01 10:00", 30.0, 0.0, "", "app", "home", "o3"),
    ("B", "2024-02-20 09:00", 200.0, 20.0, "coupon", "app", "beauty", "o4"),
    ("B", "2024-02-20 18:00", 20.0, 0.0, "", "app", "beauty", "o5"),
    ("C", "2024-03-15 12:00", 80.0, 8.0, "member_day", "store", "home", "o6"),
])
EVENTS = pd.DataFrame({
    "customer_id": ["A", "A", "A", "B", "B", "B", "C", "C", "C"],
    "timestamp": pd.to_datetime([
        "2024-02-25", "2024-02-27", "2024-03-02",  # A: 3 beauty views in 6 days
        "2024-02-01", "2024-02-05", "2024-02-09",  # B: 3 home views over 8 days: no burst
        "2024-03-01", "2024-03-02", "2024-03-03",  # C: 3 beauty views in 2 days
    ]),
    "event_type": ["view"] * 9,
    "category": ["beauty"] * 3 + ["home"] * 3 + ["beauty"] * 3,
})
CUSTOMERS = pd.DataFrame({
    "customer_id": ["A", "B", "C", "D"],
    "join_date": pd.to_datetime(["2024-01-05", "2024-02-20", "2024-03-01", "2024-06-01"]),
    "age_band": ["18-24", "35-44", "25-34", "18-24"],
    "birth_month": [3, 12, None, 1],
    "birth_day": [20, 31, None, 1],
})


def lib(*tags, groups=None):
    return library_from_mapping({"tags": [dict(name="n", definition="d", **t) for t in tags], **({"groups": groups} if groups else {})})


def inputs(models=None):
    return TagInputs(TX, EVENTS, CUSTOMERS, models=models)


def test_rule_tags_count_only_the_window_up_to_the_date():
    library = lib(
        dict(id="two_days", kind="rule", metric="purchase_days", window_days=30, min=2),
        dict(id="spend100", kind="rule", metric="spend", window_days=30, min=100),
    )
    # 2024-03-01: A bought on 01-05 (outside the 30 days 01-31..03-01), 02-10, 03-01 -> 2 days, spend 80;
    # B two orders on one day -> 1 day, spend 220
    f = inputs().tags_at(library, "2024-03-01")
    assert list(f.index) == ["A", "B", "C"]  # C joined 03-01; D joins in June: not yet known
    assert f.loc["A", "two_days"] and not f.loc["B", "two_days"] and not f.loc["C", "two_days"]
    assert not f.loc["A", "spend100"] and f.loc["B", "spend100"]
    # the day before, A's 03-01 purchase does not exist yet
    assert not inputs().tags_at(library, "2024-02-29").loc["A", "two_days"]


def test_price_metrics_by_hand():
    i = inputs()
    end = int(pd.Timestamp("2024-03-16").value)
    idx = {c: k for k, c in enumerate(i.ids)}
    promo_share = i.metric("promotion_order_share", end, 365)
    assert promo_share[idx["A"]] == pytest.approx(1 / 3)
    assert promo_share[idx["B"]] == pytest.approx(1 / 2)
    # discount depth of B: 20 / (220 + 20); share of spend in discounted orders: 200 / 220
    assert i.metric("discount_depth", end, 365)[idx["B"]] == pytest.approx(20 / 240)
    assert i.metric("discount_share", end, 365)[idx["B"]] == pytest.approx(200 / 220)
    # score: (k + prior x base) / (n + prior), base = 3 promoted of 6 orders
    base = 3 / 6
    score = i.metric("promotion_score", end, 365)
    assert score[idx["A"]] == pytest.approx((1 + SCORE_PRIOR_ORDERS * base) / (3 + SCORE_PRIOR_ORDERS))
    assert score[idx["C"]] == pytest.approx((1 + SCORE_PRIOR_ORDERS * base) / (1 + SCORE_PRIOR_ORDERS))
    assert np.isnan(score[idx["D"]])  # no orders: not defined
    assert i.metric("festival_order_share", end, 365)[idx["A"]] == pytest.approx(1 / 3)
    assert i.metric("channels", end, 365)[idx["A"]] == 2
    assert i.metric("online_order_share", end, 365)[idx["C"]] == 0


def test_behaviour_tags_need_a_burst_inside_the_window():
    library = lib(dict(id="interest", kind="behaviour", event="view", per_category=True, min_count=3, within_days=7,
                       lookback_days=90))
    f = inputs().tags_at(library, "2024-03-05")
    assert f.loc["A", "interest:beauty"] and f.loc["C", "interest:beauty"]
    assert not f.loc["B", "interest:home"]  # 3 views spread over 8 days
    assert not f[["interest:home"]].any().any()
    # as of 2024-03-01 A has only two of the three views
    assert not inputs().tags_at(library, "2024-03-01").loc["A", "interest:beauty"]
    # the burst leaves the 90-day lookback
    assert not inputs().tags_at(library, "2024-06-30").loc["A", "interest:beauty"]


def test_without_purchase_drops_customers_who_bought_the_category_after_the_burst():
    library = lib(dict(id="browse", kind="behaviour", event="view", per_category=True, min_count=3, within_days=7,
                       lookback_days=90, without_purchase=True))
    before = inputs().tags_at(library, "2024-03-10")
    assert before.loc["A", "browse:beauty"]  # A's beauty purchase (02-10) was before the burst
    assert before.loc["C", "browse:beauty"]
    extra = pd.concat([TX, tx([("C", "2024-03-12 10:00", 40.0, 0.0, "", "app", "beauty", "o7")])], ignore_index=True)
    after = TagInputs(extra, EVENTS, CUSTOMERS).tags_at(library, "2024-03-12")
    assert not after.loc["C", "browse:beauty"] and after.loc["A", "browse:beauty"]


def test_model_attribute_and_derived_tags():
    models = pd.DataFrame({"customer_id": ["A", "B", "C"], "segment": ["champions", "loyal", "champions"],
                           "p_alive": [0.9, 0.4, np.nan]})
    library = lib(
        dict(id="alive", kind="model", column="p_alive", min=0.8),
        dict(id="seg", kind="model", column="segment", per_value=True),
        dict(id="young", kind="rule", attribute="age_band", **{"in": ["18-24", "25-34"]}),
        dict(id="both", kind="derived", all=["alive", "young"]),
        dict(id="either", kind="derived", any=["alive", "young"], none=["seg:loyal"]),
        dict(id="champ_not_alive", kind="derived", all=["seg"], none=["alive"]),
    )
    f = inputs(models).tags_at(library, "2024-03-31")
    assert f["alive"].to_dict() == {"A": True, "B": False, "C": False}  # missing P(alive) is no tag
    assert f["seg:champions"].to_dict() == {"A": True, "B": False, "C": True}
    assert f["young"].to_dict() == {"A": True, "B": False, "C": True}
    assert f["both"].to_dict() == {"A": True, "B": False, "C": False}
    assert f["either"].to_dict() == {"A": True, "B": False, "C": True}
    assert f["champ_not_alive"].to_dict() == {"A": False, "B": True, "C": True}
    # a function of the date gets the date
    seen = []
    inputs(lambda d: seen.append(d) or models).tags_at(library, "2024-03-31")
    assert seen == [pd.Timestamp("2024-03-31")]


def test_days_to_birthday():
    i = inputs()
    days = i.metric("days_to_birthday", int(pd.Timestamp("2024-03-11").value), 1)
    idx = {c: k for k, c in enumerate(i.ids)}
    assert days[idx["A"]] == 10  # 03-10 -> 03-20
    assert days[idx["B"]] == 296  # 03-10 -> 12-31 (non-leap-year calendar)
    assert np.isnan(days[idx["C"]])


def test_tag_lists_in_column_order():
    flags = pd.DataFrame({"a": [True, False, True], "b": [True, False, False]}, index=["x", "y", "z"])
    assert tag_lists(flags).tolist() == ["a;b", "", "a"]


@pytest.mark.parametrize("tag, message", [
    (dict(id="x", kind="rule", metric="nope", min=1), "tags[0] (n).metric = 'nope': not a known metric; use one of"),
    (dict(id="X1", kind="rule", metric="orders", min=1), "tags[0] (n).id = 'X1': use lower-case letters"),
    (dict(id="x", kind="rule", metric="orders"), "tags[0] (n).min is missing: a metric rule needs min and/or max"),
    (dict(id="x", kind="derived", all=["later"]), "tags[0] (n).all = ['later']: uses 'later', which is not a tag defined above it"),
    (dict(id="x", kind="behaviour", lookback_days=-3), "tags[0] (n).lookback_days = -3: expected a value >= 1"),
    (dict(id="x", kind="model", column="segment", colour="red"), "tags[0] (n).colour = 'red': unknown key for a model tag"),
])
def test_bad_libraries_name_the_tag_and_the_problem(tag, message):
    with pytest.raises(ConfigError, match=None) as err:
        lib(tag)
    assert str(err.value).startswith(f"<tags>: {message}")
    with pytest.raises(ConfigError) as err:  # a tag whose name is a mapping is named by its id
        library_from_mapping({"tags": [{**tag, "name": {"en": "n"}, "definition": "d"}]}, "tags.yaml")
    assert str(err.value).startswith(f"tags.yaml: {message.replace('(n)', '(' + tag['id'] + ')')}")


def test_the_repository_library_is_bilingual():
    library = load_library(ROOT / "playbooks" / "tags.yaml")
    assert len(library.tags) >= 20
    assert {t.kind for t in library.tags} == {"rule", "behaviour", "model", "derived"}
    for t in library.tags:
        for field in (t.name, t.definition):
            assert field["en"] != field["zh-CN"], t.id
            assert any("\u4e00" <= ch <= "\u9fff" for ch in field["zh-CN"]), t.id


def test_price_tags_stay_off_without_promotion_or_discount_columns():
    library = lib(dict(id="never_promo", kind="rule", metric="promotion_order_share", window_days=365, max=0),
                  dict(id="no_discount", kind="rule", metric="discount_depth", window_days=365, max=0))
    f = TagInputs(TX.drop(columns=["promotion", "discount"])).tags_at(library, "2024-03-31")
    assert not f.any().any()  # unknown, not "never on promotion"
    g = TagInputs(TX).tags_at(library, "2024-03-31")
    assert g["never_promo"].to_dict() == {"A": False, "B": False, "C": False}
    assert g["no_discount"].to_dict() == {"A": False, "B": False, "C": False}
