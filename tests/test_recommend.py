"""Next-best category from co-purchase: hand-computed lifts, the rule, and a brute-force check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.studies.segments import recommend
from helpers.studies.segments.recommend import (
    category_incidence,
    category_pairs,
    has_categories,
    next_best_category,
)


def baskets(spec: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(cid, cat) for cid, cats in spec.items() for cat in cats]
    frame = pd.DataFrame(rows, columns=["customer_id", "category"])
    return frame.assign(timestamp=pd.Timestamp("2024-01-01"), amount=10.0)


# 10 customers: tops+trousers x4, tops only x2, shoes+socks x2, trousers+shoes x1, socks only x1
SHOP = baskets(
    {
        **{f"tt{i}": ["tops", "trousers"] for i in range(4)},
        "t0": ["tops"], "t1": ["tops", "tops"],
        "ss0": ["shoes", "socks"], "ss1": ["socks", "shoes"],
        "ts": ["trousers", "shoes"],
        "s0": ["socks"],
    }
)


def test_pair_statistics_by_hand():
    pairs = category_pairs(category_incidence(SHOP), min_pair_customers=2).set_index(["antecedent", "consequent"])
    # tops: 6 buyers, trousers: 5, both: 4 -> confidence tops->trousers 4/6, lift (4/6) / (5/10) = 4/3
    row = pairs.loc[("tops", "trousers")]
    assert row["customers_both"] == 4 and row["support"] == pytest.approx(0.4)
    assert row["confidence"] == pytest.approx(4 / 6) and row["lift"] == pytest.approx(4 / 3)
    assert pairs.loc[("trousers", "tops"), "confidence"] == pytest.approx(4 / 5)
    assert pairs.loc[("trousers", "tops"), "lift"] == pytest.approx(4 / 3)  # lift is symmetric
    # shoes: 3 buyers, socks: 3, both 2 -> lift (2/3) / (3/10) = 20/9
    assert pairs.loc[("shoes", "socks"), "lift"] == pytest.approx(20 / 9) and pairs.loc[("shoes", "socks"), "usable"]
    # trousers & shoes: 1 customer < 2 -> not usable; tops & socks: never together
    assert not pairs.loc[("trousers", "shoes"), "usable"] and pairs.loc[("tops", "socks"), "lift"] == 0


def test_tops_only_gets_trousers():
    got = next_best_category(SHOP, min_pair_customers=2)
    assert got.loc["t0", "next_category"] == "trousers" and got.loc["t0", "because"] == "tops"
    assert got.loc["t0", "lift"] == pytest.approx(4 / 3) and got.loc["t0", "confidence"] == pytest.approx(4 / 6)
    assert got.loc["t1", "reason"] == "co-purchase"
    assert got.loc["s0", "next_category"] == "shoes" and got.loc["s0", "because"] == "socks"
    # trousers+shoes: candidates tops (lift 4/3 via trousers) and socks (20/9 via shoes) -> socks
    assert got.loc["ts", "next_category"] == "socks" and got.loc["ts", "because"] == "shoes"
    # tops+trousers: shoes and socks have no usable pair -> the most popular category they lack
    assert got.loc["tt0", "reason"] == "popular" and got.loc["tt0", "next_category"] in {"shoes", "socks"}
    assert np.isnan(got.loc["tt0", "lift"]) and pd.isna(got.loc["tt0", "because"])


def test_never_suggests_a_bought_category_and_respects_min_pairs():
    got = next_best_category(SHOP, min_pair_customers=5, fallback=False)  # no pair has 5 co-buyers
    assert (got["reason"] == "").all() and got["next_category"].isna().all()
    everything = baskets({"a": ["x", "y"], "b": ["x", "y"], "c": ["x"]})
    got = next_best_category(everything, min_pair_customers=1)
    assert pd.isna(got.loc["a", "next_category"]) and got.loc["a", "reason"] == ""  # bought all there is
    with pytest.raises(ConfigError, match="min_pair_customers"):
        next_best_category(SHOP, min_pair_customers=0)


def _brute_force(transactions: pd.DataFrame, min_pair_customers: int) -> pd.DataFrame:
    """The documented rule, customer by customer, with plain Python sets."""
    bought = transactions.groupby("customer_id")["category"].apply(lambda s: set(s.astype(str)))
    n = len(bought)
    cats = sorted(set().union(*bought))
    buyers = {c: sum(c in s for s in bought) for c in cats}
    both = {(a, b): sum(a in s and b in s for s in bought) for a in cats for b in cats}
    rows = {}
    for cid, have in bought.items():
        best = None  # (lift, confidence, -index of b, b, a)
        for b in cats:
            if b in have:
                continue
            for a in sorted(have):
                lift = both[a, b] / buyers[a] / (buyers[b] / n)
                if both[a, b] < min_pair_customers or lift <= 1:
                    continue
                cand = (lift, both[a, b] / buyers[a], -cats.index(b), b, a)
                if best is None or cand[:3] > best[:3]:
                    best = cand
        if best is not None:
            rows[cid] = (best[3], best[4], "co-purchase")
        else:
            lacking = [c for c in sorted(cats, key=lambda c: (-buyers[c], c)) if c not in have]
            rows[cid] = (lacking[0], None, "popular") if lacking else (None, None, "")
    return pd.DataFrame.from_dict(rows, orient="index", columns=["next_category", "because", "reason"])


def test_matches_a_brute_force_implementation_on_random_baskets(monkeypatch):
    rng = np.random.default_rng(7)
    cats = np.array(["apparel", "beauty", "home", "toys", "food", "shoes"])
    n = 400
    # correlated tastes: each customer leans to one of two groups of categories
    group = rng.integers(0, 2, n)
    weights = np.where(group[:, None] == 0, [0.3, 0.3, 0.05, 0.05, 0.2, 0.1], [0.05, 0.05, 0.3, 0.3, 0.2, 0.1])
    rows = []
    for i in range(n):  # test data only
        k = rng.integers(1, 4)
        rows += [(f"c{i:04d}", c) for c in rng.choice(cats, size=k, p=weights[i])]
    data = pd.DataFrame(rows, columns=["customer_id", "category"]).assign(timestamp=pd.Timestamp("2024-01-01"),
                                                                           amount=1.0)
    expected = _brute_force(data, 10)
    monkeypatch.setattr(recommend, "CHUNK_CUSTOMERS", 37)  # several chunks
    got = next_best_category(data, min_pair_customers=10)
    pd.testing.assert_series_equal(got["next_category"], expected["next_category"].reindex(got.index),
                                   check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(got["because"], expected["because"].reindex(got.index), check_names=False,
                                   check_dtype=False)
    assert (got["reason"] == expected["reason"].reindex(got.index)).all()
    shuffled = next_best_category(data.sample(frac=1, random_state=1), min_pair_customers=10)
    pd.testing.assert_frame_equal(shuffled, got)


@pytest.mark.parametrize("k", [1, 9, 64, 70])
def test_bought_sets_give_back_every_row_and_the_co_buyer_counts(k):
    """Suggestions and pair counts are worked out per distinct bought set: every customer's
    row is their set's, and the counts over the sets are the customers x categories product."""
    rng = np.random.default_rng(k)
    matrix = rng.random((500, k)) < 0.2
    matrix[:40] = matrix[0]  # a set many customers share
    sets, customer_set, count = recommend._bought_sets(matrix)
    np.testing.assert_array_equal(sets[customer_set], matrix)
    assert len(np.unique(sets, axis=0)) == len(sets) and count.sum() == 500
    np.testing.assert_array_equal(np.bincount(customer_set), count)
    x = matrix.astype(np.int64)
    both = recommend._pair_stats(sets, count, len(matrix))[0]
    np.testing.assert_array_equal(both, x.T @ x)
    empty = recommend._bought_sets(matrix[:0])
    assert empty[0].shape == (0, k) and len(empty[1]) == 0


def _suggestion_summary_by_join(suggestions: pd.DataFrame, groups: pd.Series, top: int = 3) -> pd.DataFrame:
    """The summary as first written: a join on the ids, grouped by the two texts."""
    frame = suggestions[["next_category"]].join(groups.rename("group"), how="inner").dropna(subset=["next_category"])
    counts = frame.groupby(["group", "next_category"], observed=True).size().rename("customers").reset_index()
    counts["share"] = counts["customers"] / counts.groupby("group", observed=True)["customers"].transform("sum")
    counts = counts.sort_values(["group", "customers", "next_category"], ascending=[True, False, True], kind="stable")
    return counts.groupby("group", observed=True, sort=False).head(top).reset_index(drop=True)


@pytest.mark.parametrize("kind", ["text", "categorical"])
def test_suggestion_summary_counts_as_a_join_of_the_ids_would(kind):
    """Counted on codes with customers matched by position: the same table as joining the
    suggestions to the groups by id (customers without a group or a suggestion left out)."""
    rng = np.random.default_rng(3)
    ids = pd.Index([f"c{i:04d}" for i in range(600)], name="customer_id")
    cats = np.array(["tops", "shoes", "socks", "home", None], dtype=object)
    suggestions = pd.DataFrame({"next_category": rng.choice(cats, 600, p=[0.4, 0.3, 0.15, 0.1, 0.05])}, index=ids)
    segments = pd.Categorical(rng.choice(["champions", "loyal", "at_risk"], 550),
                              categories=["champions", "loyal", "at_risk", "empty"])
    groups = pd.Series(segments, index=ids[::-1][:550], name="segment")  # another order, 50 customers missing
    groups.iloc[:5] = np.nan
    expected = _suggestion_summary_by_join(suggestions, groups.astype(str).where(groups.notna()))
    given = groups if kind == "categorical" else groups.astype(str).where(groups.notna())
    pd.testing.assert_frame_equal(recommend.suggestion_summary(suggestions, given), expected)
    none = recommend.suggestion_summary(suggestions.assign(next_category=None), given)
    assert none.empty and list(none.columns) == ["group", "next_category", "customers", "share"]


def test_data_without_categories():
    plain = SHOP.drop(columns="category")
    assert not has_categories(plain) and has_categories(SHOP)
    assert not has_categories(SHOP.assign(category="one"))
    with pytest.raises(ConfigError, match="no category column"):
        next_best_category(plain)
    blanks = SHOP.assign(category=SHOP["category"].where(SHOP["customer_id"] != "s0", None))
    assert "s0" not in next_best_category(blanks, min_pair_customers=2).index


def test_incidence_if_categories_codes_the_text_once(monkeypatch):
    """The study asks for the incidence only with two categories or more, coding the text once."""
    calls = []
    real = recommend._category_codes
    monkeypatch.setattr(recommend, "_category_codes", lambda tx: calls.append(1) or real(tx))
    got = recommend.incidence_if_categories(SHOP)
    assert len(calls) == 1
    expected = category_incidence(SHOP)
    np.testing.assert_array_equal(got.matrix, expected.matrix)
    assert got.customers.equals(expected.customers) and got.categories.equals(expected.categories)
    assert recommend.incidence_if_categories(SHOP.assign(category="one")) is None
    assert recommend.incidence_if_categories(SHOP.drop(columns="category")) is None


def test_incidence_until_a_day_is_the_incidence_of_the_rows_up_to_it():
    """run_segment_study builds the incidence once, on the rows up to the analysis day, with
    text stripped per distinct category; the same as filtering the rows and stripping each."""
    rng = np.random.default_rng(7)
    n = 400
    data = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i:03d}" for i in range(60)] + [None], n),
            "category": rng.choice(["tops", " tops", "trousers ", "shoes", "", "  ", None, "late only"], n),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "amount": 1.0,
        }
    )
    data.loc[data["category"] == "late only", "timestamp"] = pd.Timestamp("2024-03-15")
    upto = data[data["timestamp"] < pd.Timestamp("2024-02-10") + pd.Timedelta(days=1)]
    got = category_incidence(data, until="2024-02-10")
    stripped = upto.assign(category=upto["category"].astype("string").str.strip())
    stripped = stripped[stripped["category"].notna() & (stripped["category"] != "") & stripped["customer_id"].notna()]
    assert list(got.categories) == sorted(stripped["category"].unique()) == ["shoes", "tops", "trousers"]
    assert list(got.customers) == sorted(stripped["customer_id"].unique())
    expected = pd.crosstab(stripped["customer_id"], stripped["category"]) > 0
    np.testing.assert_array_equal(got.matrix, expected.to_numpy())
    once = next_best_category(data, min_pair_customers=2, incidence=got)
    pd.testing.assert_frame_equal(once, next_best_category(upto, min_pair_customers=2))
