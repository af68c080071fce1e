"""RFM scores, the segment map (exact partition), tiers, CLV at risk and migration."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import hyp2f1

from helpers.errors import ConfigError
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary
from helpers.studies.segments.analysis import (
    NEW_CUSTOMERS,
    SegmentSettings,
    clv_at_risk,
    clv_tiers,
    customer_rfm,
    default_migration_start,
    lapsed_mask,
    lifecycle_rules,
    lifecycle_stages,
    load_segment_map,
    migration_matrix,
    rfm_scores,
    score_quintiles,
    segment_customers,
    segment_summary,
    segments_at,
    value_growth_tiers,
)

from ._cdnow import sample
from ._paths import ROOT
from ._paths import SEGMENT_MAP as DEFAULT_MAP


def tx(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], format="mixed")
    )


# ---------------------------------------------------------------------------- RFM


def test_customer_rfm_by_hand():
    data = tx(
        [
            ("a", "2024-01-01 09:00", 10.0),
            ("a", "2024-01-01 18:00", 5.0),  # same day: one purchase day of 15
            ("a", "2024-01-11", 25.0),
            ("b", "2024-01-31 23:59", 40.0),  # late on the analysis day still counts
            ("b", "2024-02-01", 99.0),  # after the analysis day: ignored
            ("c", "2024-02-05", 7.0),  # only after: not a customer yet
        ]
    )
    rfm = customer_rfm(data, "2024-01-31")
    assert list(rfm.index) == ["a", "b"]
    assert rfm.loc["a", "recency_days"] == 20 and rfm.loc["a", "tenure_days"] == 30
    assert rfm.loc["a", "purchase_days"] == 2 and rfm.loc["a", "revenue"] == 40.0
    assert rfm.loc["a", "order_value"] == 20.0 and rfm.loc["a", "monetary"] == 40.0
    assert rfm.loc["b", "recency_days"] == 0 and rfm.loc["b", "purchase_days"] == 1
    assert rfm.loc["b", "revenue"] == 40.0
    assert customer_rfm(data, "2024-01-31", monetary="mean").loc["a", "monetary"] == 20.0


def test_rfm_frequency_is_lifetimes_frequency_plus_one_on_cdnow():
    data = sample()
    rfm = customer_rfm(data, "1998-06-30")
    lt = customer_summary(data, "1998-06-30", "D")
    np.testing.assert_array_equal(rfm["purchase_days"].to_numpy(), lt.loc[rfm.index, "frequency"].to_numpy() + 1)
    # days since last purchase = age - age at last purchase, in days
    np.testing.assert_allclose(rfm["recency_days"], (lt["T"] - lt["recency"]).loc[rfm.index])


def test_quintiles_of_distinct_values_by_hand():
    values = np.array([3.0, 10, 1, 7, 5, 9, 2, 8, 4, 6])
    ids = [f"c{i}" for i in range(10)]
    expected = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 5, 10: 5}
    for ties in ("shared", "first"):
        scores = score_quintiles(values, ids, ties=ties)
        assert [expected[int(v)] for v in values] == list(scores)
        low = score_quintiles(values, ids, higher_is_better=False, ties=ties)
        assert list(low) == [6 - expected[int(v)] for v in values]


def test_first_quintiles_match_pandas_qcut_for_distinct_values():
    rng = np.random.default_rng(0)
    values = rng.permutation(1000).astype(float)
    scores = score_quintiles(values, np.arange(1000), ties="first")
    np.testing.assert_array_equal(scores, pd.qcut(values, 5, labels=False) + 1)


def test_shared_ties_take_the_lowest_quintile_of_their_group():
    values = np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 4], dtype=float)
    # ranks (method=min): 1 x6, 7 x2, 9, 10 -> 1 + floor(5 (rank - 1) / 10)
    assert list(score_quintiles(values, range(10))) == [1] * 6 + [4, 4, 5, 5]


@pytest.mark.parametrize("kind", ["days", "amounts", "signed_zeros", "one", "all_equal"])
def test_shared_ranks_equal_pandas_min_rank(kind):
    """Shared ties count the smaller values per distinct value: pandas' rank(method="min")."""
    from helpers.studies.segments.analysis import _min_ranks

    rng = np.random.default_rng(6)
    values = {
        "days": -rng.integers(0, 400, 5000).astype(float),
        "amounts": np.round(rng.gamma(2.0, 30.0, 5000), 2),
        "signed_zeros": np.array([0.0, -0.0, 1.0, -1.0, 0.0, -0.0]),
        "one": np.array([4.2]),
        "all_equal": np.full(50, 3.0),
    }[kind]
    expected = pd.Series(values).rank(method="min").to_numpy(dtype="int64")
    np.testing.assert_array_equal(_min_ranks(values), expected)


def test_first_ties_are_broken_by_customer_id_whatever_the_row_order():
    ids = np.array([f"id{i:02d}" for i in range(10)])
    values = np.array([1.0] * 6 + [2, 2, 3, 4])
    scores = pd.Series(score_quintiles(values, ids, ties="first"), index=ids)
    assert np.bincount(scores, minlength=6)[1:].tolist() == [2, 2, 2, 2, 2]  # equal-size quintiles
    assert scores[["id00", "id01"]].tolist() == [1, 1] and scores[["id04", "id05"]].tolist() == [3, 3]
    order = np.random.default_rng(1).permutation(10)
    shuffled = pd.Series(score_quintiles(values[order], ids[order], ties="first"), index=ids[order])
    pd.testing.assert_series_equal(shuffled.sort_index(), scores.sort_index())


def test_rfm_scores_point_the_right_way():
    # five customers: "new" bought last and most often, "old" once long ago but big
    rows = [("old", "2024-01-01", 500.0), ("new", "2024-03-30", 10.0)]
    rows += [("new", f"2024-03-{d:02d}", 10.0) for d in range(1, 10)]
    rows += [(f"mid{i}", f"2024-02-{10 + i:02d}", 20.0 + i) for i in range(3)]
    scores = rfm_scores(customer_rfm(tx(rows), "2024-03-31"))
    assert scores.loc["new", "r_score"] == 5 and scores.loc["old", "r_score"] == 1
    assert scores.loc["new", "f_score"] == 5 and scores.loc["old", "f_score"] == 1  # the mids tie with old at F 1
    assert scores.loc["old", "m_score"] == 5 and scores.loc["mid0", "m_score"] == 1  # 500 > 100 total > 20


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"^segment settings: ties = 'random': rfm_ties must be 'shared'"):
        SegmentSettings(ties="random")
    with pytest.raises(ConfigError, match="monetary"):
        SegmentSettings(monetary="median")
    with pytest.raises(ConfigError, match=r"^segment settings: growing_clv_share = 0\.3: must be larger than high_clv_share"):
        SegmentSettings(high_clv_share=0.5, growing_clv_share=0.3)
    with pytest.raises(ConfigError, match=r"^segment settings: lapsed_days = 0: expected a value >= 1$"):
        SegmentSettings(lapsed_days=0)
    with pytest.raises(ConfigError, match="analysis date"):
        customer_rfm(tx([("a", "2024-01-01", 1.0)]), "soon")


# ------------------------------------------------------------------ segment map


def _cells_claimed_in_yaml(path: Path) -> dict[tuple[int, int], list[str]]:
    """Independent reading of an R x F map: which segments claim each cell."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))

    def expand(v):
        if isinstance(v, int):
            return {v}
        lo, _, hi = str(v).partition("-")
        return set(range(int(lo), int(hi or lo) + 1))

    claimed: dict[tuple[int, int], list[str]] = {}
    for seg in raw["segments"]:
        for cell in itertools.product(sorted(expand(seg["r"])), sorted(expand(seg["f"]))):
            claimed.setdefault(cell, []).append(seg["key"])
    return claimed


def test_default_map_partitions_the_25_cells_exactly_once():
    smap = load_segment_map(DEFAULT_MAP)
    claimed = _cells_claimed_in_yaml(DEFAULT_MAP)
    cells = list(itertools.product(range(1, 6), range(1, 6)))
    assert sorted(claimed) == cells and all(len(v) == 1 for v in claimed.values())
    grid = pd.DataFrame(cells, columns=["r_score", "f_score"])
    assigned = smap.assign(grid).astype(str).tolist()
    assert assigned == [claimed[c][0] for c in cells]
    assert len(smap.keys) == 10 and smap.keys[0] == "champions"
    assert smap.describe_scores("loyal") == "R 3–4, F 4–5"


def _mutated(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_MAP.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "my_map.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_missing_cell_is_named_with_the_file(tmp_path):
    path = _mutated(tmp_path, lambda raw: raw["segments"].pop(5))  # need_attention: R3 F3
    with pytest.raises(ConfigError) as err:
        load_segment_map(path)
    message = str(err.value)
    assert "my_map.yaml" in message and "not covered by any segment: R3 F3" in message
    assert "more than one" not in message


def test_overlapping_cells_are_named_with_their_segments(tmp_path):
    def widen_loyal(raw):
        next(s for s in raw["segments"] if s["key"] == "loyal")["r"] = "3-5"

    with pytest.raises(ConfigError) as err:
        load_segment_map(_mutated(tmp_path, widen_loyal))
    message = str(err.value)
    assert "my_map.yaml" in message and "covered by more than one segment" in message
    assert "R5 F4 (champions, loyal)" in message and "R5 F5 (champions, loyal)" in message
    assert "not covered" not in message


def test_missing_and_overlapping_cells_are_reported_together(tmp_path):
    def shift(raw):
        hib = next(s for s in raw["segments"] if s["key"] == "hibernating")
        hib["r"] = "2-3"  # leaves R1 F1-2 uncovered, overlaps about_to_sleep at R3 F1-2

    with pytest.raises(ConfigError) as err:
        load_segment_map(_mutated(tmp_path, shift))
    message = str(err.value)
    assert "R1 F1, R1 F2" in message and "R3 F1 (about_to_sleep, hibernating)" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda raw: raw["segments"][0].update(r=6), "my_map.yaml: segments[0] (champions).r = 6: 6 is outside the scores"),
        (lambda raw: raw["segments"][0].update(r="5-4"), "reversed"),
        (lambda raw: raw["segments"][0].update(colour="gold"), "my_map.yaml: segments[0] (champions).colour = 'gold': unknown key; allowed keys here: key, label"),
        (lambda raw: raw["segments"][1].update(key="champions"), "segments[1] (champions).key = 'champions': already used by segments[0]"),
        (lambda raw: raw["segments"][0].update(key="Top Customers"), "lower-case"),
        (lambda raw: raw["segments"][0].pop("label"), "my_map.yaml: segments[0] (champions): missing field label"),
        (lambda raw: raw["segments"][0].update(cells=[[5, 4]]), "either 'cells' or score ranges"),
        (lambda raw: raw.update(axes=["R", "X"]), "my_map.yaml: axes = ['R', 'X']: 'axes' must list some of R, F, M"),
        (lambda raw: raw["segments"][0].update(m=5), "my_map.yaml: segments[0] (champions).m = (5,): unknown key: the map's axes are R, F"),
    ],
)
def test_map_mistakes_are_config_errors_naming_the_file(tmp_path, edit, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)) as err:
        load_segment_map(_mutated(tmp_path, edit))
    assert "my_map.yaml" in str(err.value)


def test_maps_with_explicit_cells_and_three_axes(tmp_path):
    explicit = tmp_path / "two.yaml"
    explicit.write_text(
        yaml.safe_dump(
            {
                "axes": ["F", "M"],
                "segments": [
                    {"key": "diagonal", "label": "Diagonal", "definition": "F equals M.",
                     "cells": [[s, s] for s in range(1, 6)]},
                    {"key": "rest", "label": "Rest", "definition": "Everything else.",
                     "cells": [[f, m] for f in range(1, 6) for m in range(1, 6) if f != m]},
                ],
            }
        ),
        encoding="utf-8",
    )
    smap = load_segment_map(explicit)
    scores = pd.DataFrame({"f_score": [1, 2, 5], "m_score": [1, 3, 5], "r_score": [1, 1, 1]})
    assert smap.assign(scores).astype(str).tolist() == ["diagonal", "rest", "diagonal"]

    three = tmp_path / "three.yaml"
    three.write_text(
        yaml.safe_dump(
            {
                "axes": ["R", "F", "M"],
                "segments": [
                    {"key": "big", "label": "Big", "definition": "High spend.", "m": "4-5"},
                    {"key": "small", "label": "Small", "definition": "Low spend.", "m": "1-3"},
                ],
            }
        ),
        encoding="utf-8",
    )
    smap3 = load_segment_map(three)
    assert smap3.lookup.shape == (5, 5, 5)
    assert smap3.assign(scores).astype(str).tolist() == ["small", "small", "big"]


def test_yaml_syntax_errors_name_line_and_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("segments:\n  - key: a\n    label: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML \(line"):
        load_segment_map(bad)
    with pytest.raises(ConfigError, match="segment map not found"):
        load_segment_map(tmp_path / "nowhere.yaml")


# -------------------------------------------------------------------------- tiers


def test_lapsed_value_growth_clv_and_lifecycle_tiers_by_hand():
    settings = SegmentSettings(alive_threshold=0.5, lapsed_days=100, high_value_share=0.25, high_clv_share=0.25,
                               growing_clv_share=0.5, new_days=30, loyal_min_purchases=3)
    ids = pd.Index(list("abcdefghij"), name="customer_id")
    frame = pd.DataFrame(
        {
            "p_alive": [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.3, 0.9],
            "recency_days": [1, 2, 3, 4, 5, 6, 7, 8, 9, 150],
            "revenue": [900.0, 10, 800, 20, 30, 40, 50, 60, 999, 999],
            "clv": [90.0, 85, 10, 80, 5, 6, 7, 8, 200, 200],
            "tenure_days": [400, 400, 400, 30, 400, 400, 400, 400, 400, 400],  # d: exactly new_days
            "purchase_days": [5, 1, 4, 1, 2, 3, 2, 2, 9, 9],
        },
        index=ids,
    )
    lapsed = lapsed_mask(frame["p_alive"], frame["recency_days"], settings)
    assert lapsed.tolist() == [False] * 8 + [True, True]  # i: P(alive) 0.3, j: 150 days
    # active: a..h. Revenue top 25% (q75 of [900,10,800,20,30,40,50,60] = 237.5): a, c.
    # CLV top 25% (q75 of [90,85,10,80,5,6,7,8] = 81.25): a, b. Top 50% (median 9): a, b, c, d.
    value = value_growth_tiers(frame["revenue"], frame["clv"].to_numpy(), lapsed, settings).astype(str)
    assert value.tolist() == ["core", "potential", "ordinary", "ordinary", "ordinary", "ordinary", "ordinary",
                              "ordinary", "sleeping", "sleeping"]
    clv = clv_tiers(frame["clv"], lapsed, settings).astype(str)
    assert clv.tolist() == ["high_value_loyal", "high_value_loyal", "growing", "growing", "potential", "potential",
                            "potential", "potential", "churn_risk", "churn_risk"]


def test_lifecycle_stages_by_hand_use_the_customer_base_rules():
    """Recency decides sleeping and lapsed (not P(alive)); loyal counts purchase days in the window."""
    from helpers.studies.customer_base.analysis import (
        assign_stages,
        customer_facts,
        purchase_days,
    )

    settings = SegmentSettings(lapsed_days=100, sleeping_days=60, new_days=30, loyal_min_purchases=3,
                               loyal_window_days=365)
    days = {
        "a": ["2024-10-01", "2024-11-01", "2024-12-01"],  # 3 days in the window, bought 30 days ago: loyal
        "b": ["2024-12-20"],  # first purchase 11 days ago: new
        "c": ["2023-06-01", "2023-07-01", "2024-12-01"],  # one purchase day in the window: active
        "d": ["2024-08-01", "2024-09-01", "2024-10-01"],  # last bought 91 days ago (> 60, <= 100): sleeping
        "e": ["2024-06-01", "2024-09-01"],  # 121 days ago (> 100): lapsed
        "g": ["2023-12-31", "2024-01-01", "2024-02-01", "2024-12-30"],  # 2024-01-01 is day 365: in; 2023-12-31 out
        "h": ["2023-12-31", "2024-02-01", "2024-12-30"],  # only 2 days in the window: active
    }
    tx = pd.DataFrame(
        [(c, pd.Timestamp(d) + pd.Timedelta(hours=10), 50.0) for c, ds in days.items() for d in ds],
        columns=["customer_id", "timestamp", "amount"],
    )
    rfm = customer_rfm(tx, "2024-12-31")
    life = lifecycle_stages(rfm, tx, "2024-12-31", settings).astype(str)
    assert life.to_dict() == {"a": "loyal", "b": "new", "c": "active", "d": "lapsing", "e": "churned",
                              "g": "loyal", "h": "active"}
    # the customer-base page puts everyone in the same stage
    end = pd.Timestamp("2024-12-31")
    pdays = purchase_days(tx)
    base = assign_stages(customer_facts(pdays, end), pdays, end, lifecycle_rules(settings)).astype(str)
    assert base.to_dict() == life.to_dict()


def test_clv_if_alive_is_the_bgnbd_expectation_of_an_active_customer():
    """CLV at risk rests on E[purchases] = P(alive) x E[purchases | alive]; check that
    identity against the BG/NBD closed form (Fader, Hardie & Lee 2005, eq. 10)."""
    summary = customer_summary(sample(), "1997-09-30", "W")
    model = la.fit_transaction_model("bgnbd", summary["frequency"], summary["recency"], summary["T"])
    r, alpha, a, b = (model.params[k] for k in ("r", "alpha", "a", "b"))
    x, tx_, T = np.array([0.0, 1, 3, 7]), np.array([0.0, 10, 20, 30]), np.array([38.0, 38, 38, 38])
    t = 52.0
    expected = la.expected_purchases(model, t, x, tx_, T)
    p = la.probability_alive(model, x, tx_, T)
    z = t / (alpha + T + t)
    if_alive = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                            * hyp2f1(r + x, b + x, a + b + x - 1, z))
    np.testing.assert_allclose(expected / p, if_alive, rtol=1e-6)
    np.testing.assert_allclose(clv_at_risk(expected, p), if_alive - expected, rtol=1e-6)


def test_clv_at_risk_edge_cases():
    np.testing.assert_allclose(clv_at_risk([10.0, 10.0, 10.0, 0.0], [1.0, 0.5, 0.2, 0.0]), [0.0, 10.0, 40.0, 0.0])


# ---------------------------------------------------------------------- migration


def test_migration_matrix_by_hand():
    smap = load_segment_map(DEFAULT_MAP)
    cat = lambda values, ids: pd.Series(pd.Categorical(values, categories=smap.keys), index=ids)  # noqa: E731
    before = cat(["champions", "champions", "hibernating"], ["a", "b", "c"])
    after = cat(["champions", "loyal", "hibernating", "new"], ["a", "b", "c", "d"])
    m = migration_matrix(before, after, smap)
    assert m.shape == (11, 10) and m.to_numpy().sum() == 4
    assert m.loc["champions", "champions"] == 1 and m.loc["champions", "loyal"] == 1
    assert m.loc["hibernating", "hibernating"] == 1 and m.loc[NEW_CUSTOMERS, "new"] == 1
    gone = migration_matrix(before, after.drop("c"), smap)
    assert gone.loc["hibernating", "_gone"] == 1


def test_migration_matrix_matches_counting_customer_by_customer():
    """Counted from category codes, matched by id: the same matrix as reindexing both dates to
    every id, for categoricals with another category order, plain text and missing segments."""
    smap = load_segment_map(DEFAULT_MAP)
    rng = np.random.default_rng(4)
    keys = smap.keys
    ids = [f"c{i:04d}" for i in range(400)]
    before = pd.Series(rng.choice(keys + [None], 300), index=rng.permutation(ids)[:300])
    after = pd.Series(rng.choice(keys, 350), index=rng.permutation(ids)[:350])

    def brute(b: pd.Series, a: pd.Series) -> np.ndarray:
        k = len(keys)
        out = np.zeros((k + 1, k + 1), dtype=int)
        for i in b.index.union(a.index):
            bi = b.get(i)
            ai = a.get(i)
            out[keys.index(bi) if isinstance(bi, str) else k, keys.index(ai) if isinstance(ai, str) else k] += 1
        return out

    expected = brute(before, after)
    shuffled = pd.Categorical(before, categories=list(reversed(keys)))
    for b, a in [(before, after), (pd.Series(shuffled, index=before.index), after.astype("category")),
                 (before, after.reindex(before.index.drop(before.index[:5])).dropna())]:
        got = migration_matrix(b, a, smap)
        want = brute(b.astype(object), a.astype(object))
        np.testing.assert_array_equal(got.to_numpy(), want[:, : got.shape[1]])
        assert want[:, got.shape[1]:].sum() == 0
    assert migration_matrix(before, after, smap).to_numpy().sum() == expected.sum()


def test_segments_at_two_dates_on_cdnow():
    smap = load_segment_map(DEFAULT_MAP)
    data = sample()
    before = segments_at(data, smap, "1997-03-31")
    after = segments_at(data, smap, "1998-06-30")
    assert set(before.index) <= set(after.index) and len(after) == data["customer_id"].nunique()
    m = migration_matrix(before, after, smap)
    assert m.loc[NEW_CUSTOMERS].sum() == len(after) - len(before)
    assert m.to_numpy().sum() == len(after)
    assert default_migration_start("1998-06-30") == "1997-12-31"
    assert default_migration_start("2024-05-15") == "2023-11-15"


def test_purchase_days_once_give_the_same_rfm_stages_and_segments_at_both_dates():
    """run_segment_study codes the ids once (PurchaseDays at the analysis day) and takes RFM,
    lifecycle and the earlier segments from it: the same frames, bit for bit, as from the
    transactions, whatever the row order, with missing ids ignored."""
    from helpers.studies.segments.analysis import purchase_days_by_customer

    smap = load_segment_map(DEFAULT_MAP)
    data = sample().sample(frac=1.0, random_state=5).reset_index(drop=True)  # rows out of order
    data["amount"] = data["amount"] + 0.1  # sums whose order shows in the last bit
    data.loc[data.index[:7], "customer_id"] = None
    settings = SegmentSettings()
    days = purchase_days_by_customer(data, "1998-06-30")
    for as_of in ("1998-06-30", "1997-12-31", "1997-01-15"):
        expected = customer_rfm(data, as_of)
        pd.testing.assert_frame_equal(customer_rfm(days, as_of), expected, check_exact=True)
        pd.testing.assert_series_equal(lifecycle_stages(expected, days, as_of, settings),
                                       lifecycle_stages(expected, data, as_of, settings))
        pd.testing.assert_series_equal(segments_at(days, smap, as_of), segments_at(data, smap, as_of))
    by_hand = data.dropna(subset=["customer_id"]).assign(day=lambda d: d["timestamp"].dt.floor("D"))
    by_hand = by_hand[by_hand["day"] <= "1998-06-30"].groupby(["customer_id", "day"])["amount"].sum()
    assert len(days.code) == len(by_hand)
    with pytest.raises(Exception, match="not on or after"):
        customer_rfm(days, "1998-07-01")


@pytest.mark.parametrize("kind", ["sorted", "shuffled", "missing", "object", "numbers", "one"])
def test_customer_codes_equal_pandas_sorted_factorize(kind):
    """Ids in order are coded by comparing neighbours; any other ids by pandas: the same codes
    and sorted ids as pd.factorize(sort=True), missing ids -1."""
    from helpers.studies.segments.analysis import customer_codes

    rng = np.random.default_rng(4)
    ids = pd.Series(np.sort(rng.choice([f"C{i:03d}" for i in range(60)] + ["Ä1", "z", "a b"], 500)), dtype="str",
                    name="customer_id")
    if kind == "shuffled":
        ids = ids.sample(frac=1.0, random_state=1).reset_index(drop=True)
    elif kind == "missing":
        ids[[3, 400]] = None
    elif kind == "object":
        ids = ids.astype(object)
    elif kind == "numbers":
        ids = pd.Series(np.sort(rng.integers(0, 50, 300)), name="customer_id")
    elif kind == "one":
        ids = ids.iloc[:1]
    codes, uniques = customer_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques) and uniques.name == "customer_id"


@pytest.mark.parametrize("kind", ["sorted", "shuffled", "missing", "one", "empty"])
def test_sums_by_key_equal_pandas_groupby_in_row_order(kind):
    """Customer-day sums of rows in key order go run by run; any rows: pandas' groupby sum,
    keys in first-appearance order, to the last bit (amounts whose order shows in it)."""
    from helpers.studies.segments.analysis import _sums_by_key

    rng = np.random.default_rng(2)
    key = np.sort(rng.integers(0, 300, 2000))
    values = np.round(rng.gamma(2.0, 30.0, len(key)), 2) + 0.1
    if kind == "shuffled":
        order = rng.permutation(len(key))
        key, values = key[order], values[order]
    elif kind == "missing":
        values[[5, 900]] = np.nan
    elif kind in ("one", "empty"):
        key, values = key[: int(kind == "one")], values[: int(kind == "one")]
    expected = pd.Series(values, dtype="float64").groupby(key, sort=False).sum()
    keys, sums = _sums_by_key(values, key)
    np.testing.assert_array_equal(keys, expected.index.to_numpy())
    np.testing.assert_array_equal(sums, expected.to_numpy())


def test_purchase_days_of_ids_in_order_as_of_shuffled_rows():
    """Transactions sorted by customer (as the loader leaves them) take the neighbour-coding
    path; the purchase days and RFM are those of the same rows in any order."""
    from helpers.studies.segments.analysis import customer_codes, purchase_days_by_customer

    data = sample()
    data["customer_id"] = data["customer_id"].astype("str")
    ordered = data.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    shuffled = ordered.sample(frac=1.0, random_state=2).reset_index(drop=True)
    days = purchase_days_by_customer(ordered, "1998-06-30", codes=customer_codes(ordered["customer_id"]))
    pd.testing.assert_frame_equal(customer_rfm(days, "1998-06-30"), customer_rfm(shuffled, "1998-06-30"))
    pd.testing.assert_index_equal(days.ids, customer_rfm(shuffled, "1998-06-30").index)


@pytest.mark.parametrize("kind", ["text", "numbers", "object", "equal", "empty", "sorted", "lengths", "long"])
def test_id_positions_equal_get_indexer_and_leave_no_lookup_table(kind):
    """Positions of ids in another index, -1 where absent: pandas' get_indexer, without the
    lookup table pandas would keep with a text index (about 110 MB per million ids), whether
    the ids are read as integers (short text, "sorted", "lengths") or hashed ("long")."""
    from helpers.studies.segments.analysis import id_positions

    rng = np.random.default_rng(8)
    values = np.array([f"C{i:04d}" for i in range(300)] + ["Ä1", "a b", ""], dtype=object)
    if kind == "numbers":
        values = np.arange(500, 800)
    elif kind == "lengths":  # prefixes of each other: M1 < M10 < M100 < M2
        values = np.array([f"M{i}" for i in range(300)], dtype=object)
    elif kind == "long":  # beyond the bytes read as integers
        values = np.array([f"customer-{i:04d}-" + "x" * 30 for i in range(300)], dtype=object)
    within = pd.Index(values[rng.permutation(len(values))[:250]], dtype=object if kind == "object" else None)
    if kind == "sorted":
        within = within.sort_values()
    ids = pd.Index(rng.choice(values, 120, replace=False), dtype=within.dtype)
    if kind == "equal":
        ids = pd.Index(within.to_numpy(), dtype=within.dtype)
    elif kind == "empty":
        ids = ids[:0]
    expected = pd.Index(within.to_numpy(), dtype=within.dtype).get_indexer(ids)
    positions = id_positions(ids, within)
    np.testing.assert_array_equal(positions, expected)
    assert (positions == -1).any() == (kind in ("text", "numbers", "object", "sorted", "lengths", "long"))
    if kind in ("text", "sorted", "lengths", "long"):
        assert "_engine" not in within._cache and "_engine" not in ids._cache


def test_segment_customers_take_the_clv_columns_of_a_table_in_any_order():
    """The CLV table comes sorted by CLV: its columns are taken for each customer by id, the
    same frame as reindexing the table to the customers."""
    smap = load_segment_map(DEFAULT_MAP)
    data, clv_table, customers = _segmented_sample(smap)
    shuffled = clv_table.sample(frac=1.0, random_state=4)
    pd.testing.assert_frame_equal(segment_customers(data, shuffled, smap, "1998-06-30"), customers, check_exact=True)
    by_reindex = clv_table[["p_alive", "expected_purchases", "expected_spend", "clv"]].reindex(customers.index)
    pd.testing.assert_frame_equal(customers[by_reindex.columns], by_reindex, check_exact=True)
    with pytest.raises(Exception, match=f"not in the CLV table.*{customers.index[3]}"):
        segment_customers(data, shuffled.drop(index=customers.index[3]), smap, "1998-06-30")


def _segmented_sample(smap):
    """The CDNOW sample with made-up CLV numbers (seeded), segmented at 1998-06-30."""
    data = sample()
    summary = customer_summary(data, "1998-06-30", "W")
    rng = np.random.default_rng(3)
    clv_table = summary.assign(
        p_alive=rng.uniform(0.05, 1, len(summary)), expected_purchases=1.0, expected_spend=30.0,
        clv=rng.gamma(1.0, 10.0, len(summary)),
    )
    return data, clv_table, segment_customers(data, clv_table, smap, "1998-06-30")


def test_segment_customers_and_summary_add_up():
    smap = load_segment_map(DEFAULT_MAP)
    data, clv_table, customers = _segmented_sample(smap)
    assert len(customers) == len(clv_table)
    table = segment_summary(customers, smap)
    assert list(table.index) == smap.keys
    assert table["customers"].sum() == len(customers)
    for col in ("customer_share", "revenue_share", "clv_share"):
        assert table[col].sum() == pytest.approx(1.0)
    assert table["clv"].sum() == pytest.approx(clv_table["clv"].sum())
    assert table["revenue"].sum() == pytest.approx(data["amount"].sum())
    with pytest.raises(Exception, match="not in the CLV table"):
        segment_customers(data, clv_table.iloc[10:], smap, "1998-06-30")


# ---------------------------------------------------------------------- languages

CJK = re.compile(r"[\u4e00-\u9fff]")


def _english_words(text: str) -> set[str]:
    """Latin words of three letters or more outside link targets (Chinese text keeps
    abbreviations such as CLV only)."""
    return set(re.findall(r"[A-Za-z]{3,}", re.sub(r"\]\([^)]*\)", "]", text)))


def test_default_map_names_every_segment_in_chinese_too():
    english = load_segment_map(DEFAULT_MAP)
    chinese = english.localised("zh-CN")
    assert chinese.language == "zh-CN" and chinese.keys == english.keys
    assert (chinese.lookup == english.lookup).all()
    for en, zh in zip(english.segments, chinese.segments):
        assert en.cells == zh.cells
        for text_en, text_zh in ((en.label, zh.label), (en.definition, zh.definition)):
            assert CJK.search(text_zh) and not CJK.search(text_en) and text_zh != text_en, en.key
    assert len(set(chinese.labels.values())) == len(chinese.keys)  # no two segments share a name
    assert CJK.search(chinese.name) and CJK.search(chinese.description)
    assert english.labels["cant_lose"] == "Can't lose them"
    assert chinese.localised("en") is english and english.localised("zh") is chinese  # any spelling of a language


def test_segment_texts_per_language_fall_back_and_are_validated(tmp_path):
    def edit(raw):
        raw["name"] = "Plain name"  # one text for every language
        raw["segments"][0]["label"] = {"en": "Stars"}  # Chinese falls back to English
        raw["segments"][1]["label"] = {"zh": "常客"}  # English falls back to the only text given
        raw["segments"][2]["definition"] = {"en": "Came back.", "zh-CN": "最近买过，\n  且回购过几次。"}

    english = load_segment_map(_mutated(tmp_path, edit))
    chinese = english.localised("zh-CN")
    assert english.name == chinese.name == "Plain name"
    assert english.labels["champions"] == chinese.labels["champions"] == "Stars"
    assert english.labels["loyal"] == chinese.labels["loyal"] == "常客"
    assert chinese.segment("potential_loyalists").definition == "最近买过，且回购过几次。"  # no space left by the line break
    for bad, expected in [
        ({"fr": "Champions"}, "label.fr = 'Champions': unknown language"),
        ({}, "the mapping of languages is empty"),
        ({"en": ["a", "list"]}, "label.en = ['a', 'list']: expected non-empty text"),
        ({"zh": "冠军", "zh-CN": "冠军客户"}, "the language zh-CN is given twice"),
    ]:
        path = _mutated(tmp_path, lambda raw: raw["segments"][0].update(label=bad))
        with pytest.raises(ConfigError, match=re.escape(expected)) as err:
            load_segment_map(path)
        assert "my_map.yaml" in str(err.value) and "(champions)" in str(err.value)


def test_tier_names_scores_and_summaries_in_chinese():
    from helpers.studies.segments.analysis import score_text, tier_labels, tier_summary

    assert tier_labels("clv") == {"high_value_loyal": "High-value loyal", "growing": "Growing",
                                  "potential": "Potential", "churn_risk": "Churn risk"}
    zh = tier_labels("lifecycle", "zh-CN")
    assert list(zh) == ["new", "active", "loyal", "lapsing", "churned"] and all(CJK.search(v) for v in zh.values())
    assert score_text((1, 2, 3, 4, 5)) == "any" and score_text((1, 2, 3, 4, 5), "zh-CN") == "任意"
    smap = load_segment_map(DEFAULT_MAP)
    assert smap.describe_scores("loyal", "zh-CN") == "R 3–4，F 4–5"
    assert smap.localised("zh-CN").describe_scores("hibernating") == "R 1–2，F 1–2"
    with pytest.raises(ConfigError, match="fr"):
        smap.localised("fr")
    customers = pd.DataFrame(
        {"lifecycle": pd.Categorical(["new", "loyal", "loyal"], categories=list(zh), ordered=True),
         "purchase_days": [1, 4, 5], "revenue": [10.0, 50.0, 70.0], "recency_days": [3, 10, 20],
         "monetary": [10.0, 50.0, 70.0], "order_value": [10.0, 12.5, 14.0], "r_score": [5, 4, 3],
         "f_score": [1, 4, 5], "m_score": [1, 4, 5], "p_alive": [1.0, 0.9, 0.8], "expected_spend": [10.0, 12, 14],
         "expected_purchases": [1.0, 2, 3], "clv": [5.0, 20, 30], "clv_at_risk": [0.0, 2, 7]},
    )
    table = tier_summary(customers, "lifecycle", "zh-CN")
    assert table["label"].tolist() == list(zh.values())
    assert table.loc["loyal", "customers"] == 2 and table.loc["churned", "customers"] == 0


@pytest.fixture(scope="module")
def segmented():
    """A segmented CDNOW sample with made-up CLV numbers, its summary and migration."""
    from helpers.studies.segments.actions import load_action_library, segment_guardrails

    smap = load_segment_map(DEFAULT_MAP)
    library = load_action_library(ROOT / "playbooks" / "actions.yaml", smap)
    data, _, customers = _segmented_sample(smap)
    table = segment_summary(customers, smap)
    migration = migration_matrix(segments_at(data, smap, "1997-12-31"), customers["segment"], smap)
    return smap, library, customers, table, migration, segment_guardrails(table, library, 0.3)


def test_narrative_in_chinese_uses_chinese_names_and_amounts(segmented):
    from helpers.studies.segments import narrative as story
    from helpers.studies.segments.analysis import SegmentSettings, tier_summary

    smap, library, customers, table, migration, guardrails = segmented
    zh_labels = set(smap.localised("zh-CN").labels.values())
    en_labels = set(smap.labels.values())
    texts = {
        "headline": story.headline_md(table, migration, smap, as_of="1998-06-30", migration_from="1997-12-31",
                                      currency="¥", language="zh-CN"),
        "priorities": story.priorities_md(table, library, guardrails, segment_map=smap, pages_link="segments",
                                          currency="¥", language="zh-CN"),
        "links": story.playbook_links_md(table, library, guardrails, segment_map=smap, pages_link="segments",
                                         currency="¥", language="zh-CN"),
        "shares": story.shares_md(table, smap, "zh-CN"),
        "grid": story.grid_md(smap, customers, SegmentSettings(), "zh-CN"),
        "migration": story.migration_md(migration, smap, migration_from="1997-12-31", as_of="1998-06-30",
                                        language="zh-CN"),
        "tiers": story.tier_md("value_growth", tier_summary(customers, "value_growth", "zh-CN"), SegmentSettings(),
                               "zh-CN"),
    }
    for name, text in texts.items():
        assert CJK.search(text), name
        assert _english_words(text) <= {"CLV"}, (name, _english_words(text))
        assert not any(label in text for label in en_labels), name
    assert any(label in texts["headline"] for label in zh_labels)
    assert "**价值集中在哪里**：" in texts["headline"]
    assert "万" in texts["headline"]  # the total predicted CLV of the sample runs to tens of thousands
    moves = story.segment_moves(migration, smap, "champions", migration_from="1997-12-31", language="zh-CN")
    assert all(CJK.search(m) and _english_words(m) == set() for m in moves)
    lead = story.segment_lead(table.loc["champions"], "¥", "zh-CN")
    assert lead.startswith(f"{table.loc['champions', 'customers']:,} 位客户（占全部客户的 ")


def test_amounts_in_chinese_use_wan_and_english_stays_the_same():
    from helpers.studies.segments.narrative import money_md, money_text

    assert money_text(1_234_567, "$") == "$1.2M" and money_text(45_300, "¥") == "¥45.3k"
    assert money_text(23_400, "¥", "zh-CN") == "¥2.3万" and money_text(123_000_000, "¥", "zh-CN") == "¥1.2亿"
    assert money_text(7.45, "¥", "zh-CN") == "¥7.45" and money_text(812, "¥", "zh-CN") == "¥812"
    assert money_md(1_234_567, "$", "zh-CN") == "\\$123.5万"


def test_guardrail_explained_by_hand_in_both_languages():
    from helpers.studies.segments.actions import Offer, offer_guardrail
    from helpers.studies.segments.narrative import guardrail_short, guardrail_text

    # CLV bound 10% x 100 / (2 offers x 50) = 10%: below the 20% policy cap and the 15% margin cap
    g = offer_guardrail(Offer(0.20, 0.10, 2), clv_per_customer=100.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    args = dict(currency="$", gross_margin=0.3, max_share_of_margin=0.5, clv_share=0.10, horizon_months=12)
    assert guardrail_text(g, **args) == (
        "Offer at most 10.0% off an order: about $5.00 on an expected order of $50.00 (the spend model's estimate "
        "for the segment). The limit comes from the segment's predicted value: incentives may cost 10% of the "
        "predicted CLV ($100 per customer over 12 months), that is $10.00 per customer, spread over 2 offers. The "
        "activation list holds each customer's own limit, from their own predicted CLV and expected order."
    )
    zh = guardrail_text(g, **args, language="zh-CN")
    assert zh.startswith("每笔订单的优惠不超过 10.0%：") and "分摊到 2 次优惠中" in zh and "。 " not in zh
    assert _english_words(zh) == {"CLV"}
    assert guardrail_short(g, "$") == "Discounts up to 10% (about $5.00 on an expected order)."
    assert guardrail_short(g, "$", markdown=True, language="zh-CN") == "折扣最多 10%（一笔预计订单约优惠 \\$5.00）。"
    for offer, clv in ((Offer(0.05, 0.10, 2), 10_000.0), (Offer(0.20, 0.10, 2), 10_000.0), (Offer(0.1, 0.1, 0), 1.0)):
        other = offer_guardrail(offer, clv_per_customer=clv, order_value=50.0, gross_margin=0.3,
                                max_share_of_margin=0.5)
        text = guardrail_text(other, **args, language="zh-CN")
        assert CJK.search(text) and _english_words(text) <= {"CLV"}, other.binding


def test_tables_in_chinese(segmented):
    from helpers.studies.segments import tables

    smap, library, customers, table, migration, guardrails = segmented
    overview = tables.overview(table, guardrails, "¥", segment_map=smap, language="zh-CN").data
    assert list(overview.columns[:3]) == ["分群", "客户数", "客户占比"] and "人均 CLV（¥）" in overview.columns
    assert overview["分群"].tolist() == list(smap.localised("zh-CN").labels.values())
    assert list(tables.overview(table, guardrails, "$").data.columns[:3]) == ["Segment", "Customers", "% customers"]
    from helpers.studies.segments.analysis import tier_summary

    tiers = tables.tiers(tier_summary(customers, "clv", "zh-CN"), library, "clv", "¥", "zh-CN").data
    assert tiers.columns[0] == "层级" and all(CJK.search(v) for v in tiers["行动建议"])
    assert tiers["行动建议"].str.endswith("。").all()
    matrix = tables.migration(migration, smap, "zh-CN").data
    assert matrix.columns[0] == "原分群 \\ 现分群" and matrix.iloc[-1, 0] == "当时尚未购买"
    map_table = tables.segment_map_table(smap, "zh-CN").data
    assert list(map_table.columns) == ["分群", "R", "F", "定义"] and map_table.iloc[0, 0] == "重要价值客户"


def test_figures_in_chinese_have_chinese_labels_and_every_glyph(segmented):
    import warnings

    import matplotlib.pyplot as plt

    from helpers.report.figures import to_png
    from helpers.studies.segments import figures as plots

    smap, _, customers, table, migration, _ = segmented
    figures = [
        plots.segment_grid(smap, customers, language="zh-CN"),
        plots.segment_grid(smap, customers, highlight="at_risk", small=True, language="zh-CN"),
        plots.segment_shares(table, "zh-CN", segment_map=smap),
        plots.migration_heatmap(migration, smap, migration_from="1997-12-31", as_of="1998-06-30", language="zh-CN"),
    ]
    grid_ax, one_ax, shares_ax, heat_ax = (f.axes[0] for f in figures)
    assert grid_ax.get_xlabel() == "F 得分（5 为最佳）" and grid_ax.get_title() == "各得分单元格的客户数"
    assert one_ax.get_title() == "流失边缘客户所在的位置"
    assert [t.get_text() for t in shares_ax.get_legend().get_texts()] == ["客户数", "历史收入", "预测 CLV"]
    assert [t.get_text() for t in shares_ax.get_yticklabels()][0] == "重要价值客户"
    assert heat_ax.get_ylabel() == "1997-12-31 的分群"
    assert [t.get_text() for t in heat_ax.get_yticklabels()][-1] == "当时尚未购买"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in figures:
            to_png(fig)
            plt.close(fig)
    assert not [w for w in caught if "missing from" in str(w.message)]  # the Chinese font covers every label


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_segment_pages_grid_colours_exactly_its_cells_and_names_it_once(segmented, language):
    """The page's score grid (an HTML table): the segment's cells in its overview colour, every
    other cell grey, the counts of the crosstab, rows from score 5 down, the name in one cell."""
    from helpers.studies.segments.figures import GREY, score_cell_counts, segment_colours
    from helpers.studies.segments.pages import score_grid

    smap, _, customers, *_ = segmented
    counts = score_cell_counts(customers, *smap.axes)
    local = smap.localised(language)
    for pos, key in enumerate(smap.keys):
        grid = score_grid(smap, counts, key, language)
        assert [row["score"] for row in grid["rows"]] == [5, 4, 3, 2, 1] and grid["col_scores"] == [1, 2, 3, 4, 5]
        own = {(row["score"], c + 1) for row in grid["rows"] for c, cell in enumerate(row["cells"]) if cell["own"]}
        assert own == set(local.segment(key).cells), key
        for row in grid["rows"]:
            for c, cell in enumerate(row["cells"]):
                assert cell["background"] == (segment_colours(smap)[pos] if cell["own"] else GREY)
                assert cell["count"] == f"{counts.loc[row['score'], c + 1]:,}"
        named = [cell for row in grid["rows"] for cell in row["cells"] if cell["label"]]
        assert len(named) == 1 and named[0]["own"] and named[0]["label"] == local.labels[key]
        assert local.labels[key] in grid["title"]


def test_grid_ink_keeps_wcag_contrast_on_every_segment_colour(segmented):
    from helpers.studies.segments.figures import GREY, segment_colours
    from helpers.studies.segments.pages import readable_ink

    def luminance(colour):
        c = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
        return float(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) @ [0.2126, 0.7152, 0.0722])

    for colour in [*segment_colours(segmented[0]), GREY, "#000000", "#ffffff", "#777777"]:
        lighter, darker = sorted((luminance(colour), luminance(readable_ink(colour))), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, colour
    assert readable_ink("#ffffff") == "#000000" and readable_ink("#000000") == "#ffffff"


def test_segment_page_grid_escapes_segment_names(segmented, tmp_path):
    """A name from the map is text in the grid's cell and caption, never markup."""
    import dataclasses

    from helpers.studies.segments.figures import score_cell_counts
    from helpers.studies.segments.pages import _environment, score_grid

    smap, _, customers, *_ = segmented
    key = smap.keys[0]
    evil = "<script>alert(1)</script>&"
    segments = [dataclasses.replace(seg, label=evil) if seg.key == key else seg for seg in smap.segments]
    hostile = dataclasses.replace(smap, segments=segments, versions={})
    assert hostile.labels[key] == evil
    grid = score_grid(hostile, score_cell_counts(customers, *smap.axes), key, "en")
    html = _environment().get_template("grid.html.j2").render(grid=grid, t={"grid_alt": "grid"})
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in html
    assert html.count("&lt;script&gt;") == 2  # the caption and the one named cell


def test_grid_counts_are_the_crosstab_of_the_scores(segmented):
    from helpers.studies.segments.figures import score_cell_counts

    customers = segmented[2]
    expected = pd.crosstab(customers["r_score"], customers["f_score"]).reindex(
        index=range(1, 6), columns=range(1, 6), fill_value=0
    )
    got = score_cell_counts(customers, "R", "F")
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert list(got.index) == list(got.columns) == [1, 2, 3, 4, 5]
    few = score_cell_counts(customers[customers["r_score"] == 5], "R", "F")
    assert few.loc[1:4].to_numpy().sum() == 0 and few.to_numpy().sum() == (customers["r_score"] == 5).sum()
