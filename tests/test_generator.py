"""The synthetic new-retail generator: determinism, schema, rules, and recovery of its truth."""

import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.generator import (
    BLOCK_CUSTOMERS,
    SCHEMA,
    TABLES,
    GeneratorConfig,
    generate,
    generate_to_folder,
    generate_to_parquet,
    main,
    write,
)
from helpers.data.generator import output as generator_output
from helpers.data.privacy import find_personal_data_columns
from helpers.errors import ConfigError
from helpers.models.lifetimes_adapter import fit_gamma_gamma
from helpers.models.summary import customer_summary
from helpers.studies.clv.analysis import fit_purchase_model

from ._paths import NEWRETAIL as COMMITTED
from ._paths import ROOT

SMALL = GeneratorConfig(n_customers=1500, seed=11)


@pytest.fixture(scope="module")
def data():
    return generate(GeneratorConfig(n_customers=6000, seed=3))


@pytest.fixture(scope="module")
def big():
    """20,000 customers for parameter recovery (about half a second to generate)."""
    config = GeneratorConfig(n_customers=20_000)
    return config, generate(config)


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_the_same_bytes(tmp_path, fmt):
    write(generate(SMALL), tmp_path / "a", fmt)
    write(generate(SMALL), tmp_path / "b", fmt)
    assert same_files(tmp_path / "a", tmp_path / "b")


def test_different_seed_gives_different_data():
    a, b = generate(SMALL), generate(SMALL.replace(seed=12))
    assert not a.transactions.equals(b.transactions)
    assert not a.customers["join_date"].equals(b.customers["join_date"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_streaming_gives_the_same_bytes_whatever_the_chunk_size(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(generator_output, "ROW_GROUP_ROWS", 9_000)  # several Parquet row groups
    config = GeneratorConfig(n_customers=2 * BLOCK_CUSTOMERS + 700, seed=5)
    write(generate(config), tmp_path / "memory", fmt)
    generate_to_folder(config, tmp_path / "one_block", fmt, chunk_customers=1)
    generate_to_folder(config, tmp_path / "two_blocks", fmt, chunk_customers=2 * BLOCK_CUSTOMERS)
    assert same_files(tmp_path / "memory", tmp_path / "one_block")
    assert same_files(tmp_path / "memory", tmp_path / "two_blocks")


def test_a_block_does_not_depend_on_the_dataset_size():
    small = generate(GeneratorConfig(n_customers=BLOCK_CUSTOMERS, seed=4))
    large = generate(GeneratorConfig(n_customers=BLOCK_CUSTOMERS + 100, seed=4))
    head = large.transactions[large.transactions["customer_id"] <= small.customers["customer_id"].max()]
    pd.testing.assert_frame_equal(small.transactions, head.reset_index(drop=True))


def test_parquet_and_csv_hold_the_same_rows(tmp_path):
    data = generate(SMALL)
    write(data, tmp_path / "p", "parquet")
    write(data, tmp_path / "c", "csv")
    for name in ("transactions", "service_tickets"):
        parquet = pd.read_parquet(tmp_path / "p" / f"{name}.parquet")
        pd.testing.assert_frame_equal(parquet, data.tables[name], check_dtype=False)
        csv = pd.read_csv(tmp_path / "c" / f"{name}.csv")
        assert len(csv) == len(parquet) and list(csv.columns) == list(parquet.columns)
        money = [c for c, kind, _ in SCHEMA[name] if kind == "money"]
        np.testing.assert_allclose(csv[money].to_numpy(), parquet[money].to_numpy())


# --- schema ----------------------------------------------------------------------------------


def test_tables_have_the_documented_columns_types_and_no_unexpected_gaps(data):
    checks = {
        "str": pd.api.types.is_string_dtype, "date": pd.api.types.is_datetime64_dtype,
        "ts": pd.api.types.is_datetime64_dtype, "money": pd.api.types.is_float_dtype,
        "float": pd.api.types.is_float_dtype, "int": pd.api.types.is_integer_dtype,
        "int?": pd.api.types.is_integer_dtype, "bool": pd.api.types.is_bool_dtype,
    }
    assert set(data.tables) == set(TABLES)
    documented = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for name, frame in data.tables.items():
        assert list(frame.columns) == [c for c, _, _ in SCHEMA[name]], name
        assert len(frame) > 0, name
        for column, kind, may_be_empty in SCHEMA[name]:
            assert checks[kind](frame[column]), (name, column, frame[column].dtype)
            if not may_be_empty:
                assert frame[column].notna().all(), (name, column)
            assert f"`{column}`" in documented, f"{name}.{column} is not documented in data/README.md"


def test_ids_are_unique_and_consistent(data):
    cu, tx, ev, tk, cp = (data.customers, data.transactions, data.loyalty_events, data.service_tickets,
                          data.campaign_exposures)
    assert cu["customer_id"].is_unique and cu["customer_id"].str.fullmatch(r"M\d{6}").all()
    assert not tx.duplicated(["order_id", "line_no", "is_return"]).any()
    assert tk["ticket_id"].is_unique and cp["customer_id"].is_unique
    customers = set(cu["customer_id"])
    for frame in (tx, ev, tk, cp, data.truth_customers):
        assert set(frame["customer_id"]) <= customers
    assert set(data.truth_customers["customer_id"]) == customers
    order_owner = tx.drop_duplicates("order_id").set_index("order_id")["customer_id"]
    assert (order_owner.reindex(tk["order_id"]).to_numpy() == tk["customer_id"].to_numpy()).all()
    linked = ev["order_id"].dropna()
    assert (order_owner.reindex(linked).to_numpy() == ev.loc[linked.index, "customer_id"].to_numpy()).all()
    assert set(tx["store"]) <= set(data.stores["store_id"]) | {"ONLINE"}
    assert ((tx["channel"] == "store") == (tx["store"] != "ONLINE")).all()


def test_timestamps_lie_inside_the_window_and_in_order(data):
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-01-01")
    frames = {
        "transactions": ["timestamp"], "loyalty_events": ["timestamp"], "campaign_exposures": ["exposed_at"],
        "service_tickets": ["opened_at", "first_response_at", "resolved_at"],
    }
    for name, columns in frames.items():
        for column in columns:
            values = data.tables[name][column].dropna()
            assert values.min() >= start and values.max() < end, (name, column)
    tk = data.service_tickets
    assert (tk["first_response_at"].dropna() >= tk.loc[tk["first_response_at"].notna(), "opened_at"]).all()
    done = tk["resolved_at"].notna()
    assert (tk.loc[done, "resolved_at"] >= tk.loc[done, "first_response_at"]).all()
    assert tk["first_response_at"].notna()[done].all()
    ordered = data.transactions.drop_duplicates("order_id").set_index("order_id")["timestamp"]
    assert (tk["opened_at"].to_numpy() > ordered.reindex(tk["order_id"]).to_numpy()).all()
    assert data.transactions.groupby("customer_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()


def test_join_date_is_the_first_purchase(data):
    buys = data.purchases()
    first = buys.sort_values(["customer_id", "timestamp"]).groupby("customer_id").first()
    cu = data.customers.set_index("customer_id").loc[first.index]
    assert (first["timestamp"].dt.normalize() == cu["join_date"]).all()
    assert (first["channel"] == cu["join_channel"]).all()


def test_no_personal_data(data):
    for name, frame in data.tables.items():
        flagged = set(find_personal_data_columns(frame))
        assert not flagged, (name, flagged)
        assert not any(word in c for c in frame.columns for word in ("name", "phone", "mail", "address", "birth"))
    assert data.customers["marketing_wechat"].dtype == bool


# --- business rules --------------------------------------------------------------------------


def test_amounts_returns_and_quantities(data):
    tx = data.transactions
    buys, returns = tx[~tx["is_return"]], tx[tx["is_return"]]
    assert (buys["amount"] > 0).all() and (buys["quantity"] >= 1).all() and (tx["discount"] >= 0).all()
    assert (returns["amount"] < 0).all() and (returns["quantity"] <= -1).all()
    assert 0.01 < len(returns) / len(buys) < 0.08
    original = buys.set_index(["order_id", "line_no"]).loc[list(zip(returns["order_id"], returns["line_no"]))]
    assert (original["amount"].to_numpy() == -returns["amount"].to_numpy()).all()
    assert (original["timestamp"].to_numpy() < returns["timestamp"].to_numpy()).all()
    assert (returns["points_earned"].to_numpy() == -original["points_earned"].to_numpy()).all()
    assert np.allclose(tx["amount"], tx["amount"].round(2))


def test_points_balances_never_go_negative_and_match_the_transactions(data):
    ev, tx = data.loyalty_events, data.transactions
    assert ev.groupby("customer_id")["points"].cumsum().min() >= 0
    credited = ev[ev["event_type"] == "earn_purchase"].set_index("order_id")["points"]
    per_order = tx.groupby("order_id")["points_earned"].sum()
    assert (per_order.reindex(credited.index).to_numpy() == credited.to_numpy()).all()
    redeemed = ev[ev["event_type"] == "redeem"].set_index("order_id")["points"]
    assert (tx.groupby("order_id")["points_redeemed"].sum().reindex(redeemed.index) == -redeemed).all()
    assert tx["points_redeemed"].sum() == -redeemed.sum()
    assert set(ev["event_type"]) == {
        "earn_purchase", "earn_checkin", "earn_share", "earn_survey", "earn_referral", "redeem", "expire", "tier_change"
    }
    expire = ev[ev["event_type"] == "expire"]
    assert (expire["timestamp"].dt.strftime("%m-%d %H:%M:%S") == "12-31 23:59:59").all()


def test_tier_changes_follow_the_rolling_spend_rule(data):
    ev, tx = data.loyalty_events, data.transactions
    changes = ev[ev["event_type"] == "tier_change"]
    assert ev.loc[ev["event_type"] != "tier_change", ["tier_from", "tier_to"]].isna().all().all()
    before = changes.groupby("customer_id")["tier_to"].shift().fillna("bronze")
    assert (before == changes["tier_from"]).all() and (changes["tier_from"] != changes["tier_to"]).all()
    # recompute the trailing-365-day net spend at each change from the transactions
    days = tx.assign(day=tx["timestamp"].dt.normalize())
    sample = changes.iloc[:: max(len(changes) // 300, 1)]
    for _, row in sample.iterrows():  # a sample of a few hundred changes
        day = row["timestamp"].normalize()
        mine = days[(days["customer_id"] == row["customer_id"]) & (days["day"] <= day)
                    & (days["day"] > day - pd.Timedelta(days=365))]
        spend = mine["amount"].sum()
        expected = "gold" if spend >= 3000 - 1e-6 else "silver" if spend >= 1000 - 1e-6 else "bronze"
        assert row["tier_to"] == expected, (row.to_dict(), spend)


def test_multi_channel_customers_buy_more_often(data):
    buys = data.purchases()
    per = buys.groupby("customer_id").agg(
        channels=("channel", "nunique"), days=("timestamp", lambda s: s.dt.normalize().nunique())
    )
    means = per.groupby("channels")["days"].mean()
    assert means.is_monotonic_increasing and means.iloc[-1] > 3 * means.iloc[0]


def test_service_tickets_breaches_and_satisfaction(data):
    tk, tx = data.service_tickets, data.transactions
    hours = lambda col: (tk[col] - tk["opened_at"]).dt.total_seconds() / 3600  # noqa: E731
    response_breach = (hours("first_response_at") > 24) | (tk["first_response_at"].isna())
    resolution_breach = hours("resolved_at") > 48
    assert 0.02 < response_breach.mean() < 0.15 and 0.10 < resolution_breach.mean() < 0.40
    satisfied = tk["satisfaction"].dropna()
    assert satisfied.between(1, 5).all()
    assert tk.loc[resolution_breach, "satisfaction"].mean() < tk.loc[~resolution_breach, "satisfaction"].mean() - 0.5
    orders = tx.drop_duplicates("order_id")
    rate = tk.merge(orders[["order_id", "channel"]], on="order_id", suffixes=("_contact", ""))["channel"].value_counts()
    rate = rate / orders["channel"].value_counts()
    assert rate["store"] < 0.5 * min(rate.drop("store"))
    # breaches go with churn: customers whose ticket breached drop out more often
    truth = data.truth_customers.set_index("customer_id")["alive_at_end"]
    dropped = ~truth.reindex(tk["customer_id"]).to_numpy()
    breach = (response_breach | resolution_breach).to_numpy()
    assert dropped[breach].mean() > dropped[~breach].mean()
    service = data.truth["service"]
    assert service["share_breached_churn_linked"] > 2 * service["share_breached_other"]


def test_pilot_split_outcomes_and_true_effect(data):
    cp, buys = data.campaign_exposures, data.purchases()
    n = len(cp)
    treated = (cp["group"] == "treatment").mean()
    assert abs(treated - 0.5) < 4 * np.sqrt(0.25 / n)
    pilot = data.truth["pilot"]
    assert pilot["customers"] == n and pilot["treatment"] == (cp["group"] == "treatment").sum()
    assert cp["campaign_id"].eq("PILOT-2024-07").all()
    assert cp["exposed_at"].between(pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-08")).all()
    # outcome = purchases in the 90 days after the exposure day, recomputed from the transactions
    day = buys["timestamp"].dt.normalize()
    merged = buys.assign(day=day).merge(cp[["customer_id", "exposed_at"]], on="customer_id")
    exposed = merged["exposed_at"].dt.normalize()
    post = (merged["day"] > exposed) & (merged["day"] <= exposed + pd.Timedelta(days=90))
    pre = (merged["day"] >= exposed - pd.Timedelta(days=90)) & (merged["day"] < exposed)
    outcome = merged[post].groupby("customer_id")["amount"].sum().reindex(cp["customer_id"], fill_value=0)
    before = merged[pre].groupby("customer_id")["amount"].sum().reindex(cp["customer_id"], fill_value=0)
    np.testing.assert_allclose(outcome.to_numpy(), cp["outcome_spend"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(before.to_numpy(), cp["pre_period_spend"].to_numpy(), atol=1e-6)
    assert (cp["converted"] == (cp["outcome_spend"] > 0)).all()
    # the true effect is the uplift on what the pilot customers would have spent untreated
    assert pilot["sample_average_treatment_effect_cny"] == pytest.approx(
        pilot["relative_uplift_spend_per_purchase_day"] * pilot["mean_outcome_without_treatment_cny"], abs=0.05
    )


def test_truth_counts_match_the_tables(data):
    counts = data.truth["counts"]
    assert counts["customers"] == len(data.customers)
    assert counts["transaction_rows"] == len(data.transactions)
    assert counts["orders"] == data.transactions["order_id"].nunique()
    assert counts["returns"] == data.transactions["is_return"].sum()
    assert counts["loyalty_events"] == len(data.loyalty_events)
    assert counts["service_tickets"] == len(data.service_tickets)
    assert counts["campaign_exposures"] == len(data.campaign_exposures)
    assert counts["purchase_days"] == data.purchases().assign(
        d=lambda f: f["timestamp"].dt.normalize()).drop_duplicates(["customer_id", "d"]).shape[0]
    truth = data.truth_customers
    assert truth["churn_date"].isna().eq(truth["alive_at_end"]).all()
    last = data.purchases().groupby("customer_id")["timestamp"].max().dt.normalize()
    dead = truth[~truth["alive_at_end"]].set_index("customer_id")
    assert (last.reindex(dead.index) == dead["churn_date"]).all()


# --- parameter recovery ----------------------------------------------------------------------


def test_bgnbd_and_gamma_gamma_recover_the_true_parameters(big):
    """Fitting the daily summary of 20,000 generated customers lands within 3 standard errors
    of every true parameter. (Over 40 seeds the largest |error| / SE seen was 2.7; the
    mean error is under 0.6 SE, the small bias of observing a continuous-time process in
    whole days.)"""
    config, data = big
    summary = customer_summary(data.purchases(), config.end, "D")
    assert len(summary) == config.n_customers
    purchase = fit_purchase_model(summary, "bgnbd")
    spend = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    for model, names in ((purchase, "r alpha a b"), (spend, "p q v")):
        for name in names.split():
            true, fitted, se = getattr(config, name), model.params[name], model.standard_errors[name]
            assert abs(fitted - true) < 3 * se, f"{name}: true {true}, fitted {fitted:.4f} +- {se:.4f}"
    assert data.truth["purchase_model"]["r"] == config.r and data.truth["spend_model"]["v"] == config.v


def test_alive_share_matches_the_truth(big):
    config, data = big
    truth = data.truth_customers
    assert truth["alive_at_end"].mean() == pytest.approx(data.truth["realised"]["alive_at_end"] / config.n_customers)
    # buy-till-you-die: a customer who dropped out buys nothing after the churn date
    assert truth.loc[~truth["alive_at_end"], "churn_date"].notna().all()


# --- config and command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"n_customers": 0}, r"^generator settings: n_customers = 0: expected a value >= 1$"),
        ({"r": -1.0}, r"^generator settings: r = -1\.0: expected a value > 0"),
        ({"end": "2022-01-01"}, r"^generator settings: end = '2022-01-01': must be after start \(2023-01-01\)$"),
        ({"start": "not a date"}, r"^generator settings: start = 'not a date': is not a date"),
        ({"channel_mix": {"store": 0.5, "tv": 0.5}}, r"channel_mix = \{'store': 0\.5, 'tv': 0\.5\}: unknown label"),
        ({"region_mix": {"east": 0.5, "south": 0.4}}, r"region_mix = .*: shares must sum to 1"),
        ({"pilot_start": "2023-01-15"}, r"^generator settings: pilot_start = '2023-01-15': the pilot"),
        ({"pilot_treatment_share": 1.0}, r"pilot_treatment_share = 1\.0: expected a value < 1"),
        ({"return_rate": {"store": 0.01}}, r"return_rate = \{'store': 0\.01\}: lacks"),
        ({"tier_discount": {"bronze": 0, "silver": 0.95, "gold": 0.1}}, r"tier_discount\.silver = 0\.95: expected a number in \[0, 0\.9\]"),
    ],
)
def test_bad_settings_are_explained(changes, words):
    with pytest.raises(ConfigError, match=words):
        GeneratorConfig(**changes)


def test_config_round_trips_through_a_dict():
    config = GeneratorConfig(n_customers=10, seed=3, start="2023-03-01")
    assert GeneratorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="unknown generator setting"):
        GeneratorConfig.from_dict({"customers": 10})


def test_command_line_writes_files_and_reports_errors_without_traceback(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--customers", "300", "--seed", "2", "--out", str(out), "--format", "parquet"]) == 0
    printed = capsys.readouterr().out
    assert "300 / 300 customers" in printed and "truth.json" in printed
    assert {p.name for p in out.iterdir()} == {f"{t}.parquet" for t in TABLES} | {"truth.json"}
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 2 and truth["config"]["n_customers"] == 300

    assert main(["--customers", "0", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "n_customers" in err and "Traceback" not in err

    (tmp_path / "cfg.json").write_text('{"r": "fast"}')
    assert main(["--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "bad")]) == 2
    assert "cfg.json: r = 'fast': expected a number" in capsys.readouterr().err


def test_generate_to_parquet_returns_the_truth(tmp_path):
    truth = generate_to_parquet(SMALL, tmp_path, chunk_customers=500)
    assert truth == json.loads((tmp_path / "truth.json").read_text())
    assert len(pd.read_parquet(tmp_path / "customers.parquet")) == SMALL.n_customers


# --- the committed dataset -------------------------------------------------------------------


def test_committed_dataset_is_a_fresh_generation_of_its_recorded_config(tmp_path):
    truth = json.loads((COMMITTED / "truth.json").read_text(encoding="utf-8"))
    config = GeneratorConfig.from_dict(truth["config"])
    assert truth["seed"] == config.seed
    write(generate(config), tmp_path, "csv")
    assert same_files(COMMITTED, tmp_path)


def test_committed_dataset_is_small_utf8_csv():
    files = list(COMMITTED.iterdir())
    assert {p.name for p in files} == {f"{t}.csv" for t in TABLES} | {"truth.json"}
    assert sum(p.stat().st_size for p in files) < 5_000_000
    for path in files:
        path.read_bytes().decode("utf-8")


def test_extensions_combine_and_are_all_written(tmp_path):
    """Campaign and community extensions switched on together: each adds its own tables and
    truth section, and write() writes every one of them next to the core tables."""
    data = generate(GeneratorConfig(n_customers=600, seed=5, campaigns=True, community=True, tags_extension=True))
    assert {"coupons", "messages", "weather"} <= set(data.extras)
    assert {"community_members", "referrals"} <= set(data.extras)
    assert {"campaigns", "community"} <= set(data.truth)
    paths = write(data, tmp_path, "csv")
    for name in data.extras:
        assert paths[name].is_file(), name
