"""Behaviour events, birthdays and per-order promotions for the tags study, with planted truth.

A function of the core generated tables (customers, transactions) and a seed, so it can run
on the committed ``data/newretail`` at build time (the tags notebook does) or inside the
generator when ``GeneratorConfig.tags_extension`` is on. What it plants (``data/README.md``):

- **Latent category interest.** Each (customer, category) pair is "interested" with
  probability ``interest_share``. An interested customer has browse sessions (Poisson,
  ``sessions_per_year`` per year from joining to the end), each 3 + Poisson(1.5) views of the
  category within 7 days (plus favourites and add-to-cart with some probability); after the
  first session, each of the customer's purchase lines switches to that category with
  probability ``interest_purchase_prob`` (interest raises later purchases). Every customer
  also views categories at random (an exponentially distributed rate with mean
  ``background_views_per_year``, times uniform), so a burst of views is the signal, not a view
  as such, and heavy browsers make some false bursts.
- **Promotion dependence.** A share ``dependent_share`` of customers wait for promotions:
  each repeat order of theirs (the first order is the join order and stays) moves, with
  probability ``dependent_wait_prob``, to the next promotion day (member day, 618 or
  Double 11) when that is before the end; they also use a coupon on ``dependent_coupon_prob``
  of their remaining full-price orders (others ``coupon_prob``).
- **Promotions on orders.** Every order gets ``promotion`` = ``618`` / ``double11`` (the
  festival windows of ``GeneratorConfig.promotions``), ``member_day`` (day
  ``member_day`` of each month), ``coupon`` or empty, and its lines' ``discount`` grows by
  the promotion's rate of the list price (amount paid unchanged: the list price is
  ``amount / (1 - rate)``), so spend, and the CLV truth of the core tables, stays the same.
- **Birthdays** (month and day only), missing for ``birthday_missing_share`` of customers.

Everything is vectorised over events, orders and lines; the only loops run over the few
promotion windows and years.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from helpers.data.columns import CATEGORY, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from helpers.errors import ConfigError

#: Version of this extension's generating process (bump when the same inputs give other data).
TAGS_EXTENSION_VERSION = "1.0.0"
EVENT_TYPES: tuple[str, ...] = ("view", "favourite", "add_to_cart", "coupon_claim", "store_checkin")
#: Promotion codes on orders (empty = none). Festival names come from the generator config.
MEMBER_DAY, COUPON = "member_day", "coupon"
ONLINE_EVENT_CHANNELS: tuple[str, ...] = ("app", "mini_program", "online_mall")
DAY_S = 86_400
YEAR_DAYS = 365.25


@dataclass(frozen=True)
class TagDataConfig:
    """What the tags extension plants; defaults are those of ``data/README.md``."""

    seed: int = 14
    interest_share: float = 0.08
    sessions_per_year: float = 4.0
    interest_purchase_prob: float = 0.35
    background_views_per_year: float = 15.0
    favourite_prob: float = 0.3
    add_to_cart_prob: float = 0.4
    dependent_share: float = 0.15
    dependent_wait_prob: float = 0.8
    coupon_prob: float = 0.06
    dependent_coupon_prob: float = 0.5
    coupon_claims_per_year: float = 1.0
    dependent_coupon_claims_per_year: float = 6.0
    checkins_per_year: float = 2.0
    member_day: int = 8
    member_day_rate: float = 0.05
    coupon_rate: float = 0.10
    birthday_missing_share: float = 0.2
    festivals: tuple = (("618", "06-01", "06-18", 0.10), ("double11", "11-01", "11-11", 0.12))

    def __post_init__(self) -> None:
        for name in ("interest_share", "interest_purchase_prob", "favourite_prob", "add_to_cart_prob",
                     "dependent_share", "dependent_wait_prob", "coupon_prob", "dependent_coupon_prob",
                     "birthday_missing_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"tags extension setting {name} must be a probability in [0, 1], not {value!r}.")
        for name in ("sessions_per_year", "background_views_per_year", "coupon_claims_per_year",
                     "dependent_coupon_claims_per_year", "checkins_per_year"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"tags extension setting {name} must be a rate >= 0, not {value!r}.")
        if not isinstance(self.member_day, int) or not 1 <= self.member_day <= 28:
            raise ConfigError(f"tags extension setting member_day must be a day of the month 1-28, not {self.member_day!r}.")
        for name in ("member_day_rate", "coupon_rate"):
            value = getattr(self, name)
            if not 0 <= value < 0.9:
                raise ConfigError(f"tags extension setting {name} must be a discount in [0, 0.9), not {value!r}.")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["festivals"] = [list(f) for f in self.festivals]
        return out


@dataclass
class TagData:
    """The extension's tables and the planted truth."""

    transactions: pd.DataFrame
    behaviour_events: pd.DataFrame
    customer_birthdays: pd.DataFrame
    #: one row per planted (customer, category) interest, with the first session's start
    truth_interest: pd.DataFrame
    #: one row per customer: promotion_dependent (bool)
    truth_promotion: pd.DataFrame
    truth: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "transactions": self.transactions, "behaviour_events": self.behaviour_events,
            "customer_birthdays": self.customer_birthdays, "truth_tag_interest": self.truth_interest,
            "truth_tag_promotion": self.truth_promotion,
        }


# ------------------------------------------------------------------ promotion calendar


def promotion_days(start: pd.Timestamp, end: pd.Timestamp, cfg: TagDataConfig) -> pd.DataFrame:
    """One row per calendar day from ``start`` to ``end`` with the promotion running that day
    (festival windows first, then the monthly member day; empty = none) and its rate."""
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    promo = np.full(len(days), "", dtype=object)
    rate = np.zeros(len(days))
    member = days.day == cfg.member_day
    promo[member], rate[member] = MEMBER_DAY, cfg.member_day_rate
    for name, first, last, festival_rate in cfg.festivals:  # a few festivals
        for year in range(days.year.min(), days.year.max() + 1):  # and years
            inside = (days >= pd.Timestamp(f"{year}-{first}")) & (days <= pd.Timestamp(f"{year}-{last}"))
            promo[inside], rate[inside] = str(name), float(festival_rate)
    return pd.DataFrame({"day": days, "promotion": promo, "rate": rate})


# ------------------------------------------------------------------------ the extension


def _poisson_times(rng, counts_rate: np.ndarray, start_s: np.ndarray, end_s: np.ndarray):
    """Poisson(rate x span) uniform event times per row; returns (row index, seconds)."""
    span = np.maximum(end_s - start_s, 0)
    n = rng.poisson(counts_rate * span / (YEAR_DAYS * DAY_S))
    rows = np.repeat(np.arange(len(n)), n)
    times = start_s[rows] + np.floor(rng.random(len(rows)) * span[rows]).astype(np.int64)
    return rows, times


def simulate_tag_data(
    customers: pd.DataFrame, transactions: pd.DataFrame, *, end: object, config: TagDataConfig | None = None
) -> TagData:
    """Events, birthdays and promotion-enriched transactions for the core tables.

    ``customers`` needs ``customer_id`` and ``join_date``; ``transactions`` the generator's
    columns (``customer_id, order_id, timestamp, category, amount, discount, is_return``).
    ``end`` is the last day of the data window.
    """
    cfg = config or TagDataConfig()
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(14,)))
    end_day = pd.Timestamp(end).normalize()
    end_s = int((end_day + pd.Timedelta(days=1)).value // 10**9) - 1
    cust = customers[[CUSTOMER_ID, "join_date"]].sort_values(CUSTOMER_ID).reset_index(drop=True)
    ids = cust[CUSTOMER_ID].to_numpy()
    n = len(ids)
    join_s = (pd.to_datetime(cust["join_date"]).to_numpy().astype("datetime64[s]").astype(np.int64))
    last_s = np.full(n, end_s, dtype=np.int64)
    categories = np.array(sorted(transactions[CATEGORY].dropna().unique()))
    k = len(categories)
    if n == 0 or k == 0:
        raise ConfigError("the tags extension needs customers and categorised transactions.")

    # --- planted traits -------------------------------------------------------------------
    interested = rng.random((n, k)) < cfg.interest_share
    dependent = rng.random(n) < cfg.dependent_share

    # --- browse sessions of interested pairs -------------------------------------------------
    pair_c, pair_k = np.nonzero(interested)
    s_rows, s_start = _poisson_times(rng, np.full(len(pair_c), cfg.sessions_per_year), join_s[pair_c], last_s[pair_c])
    views_per = 3 + rng.poisson(1.5, len(s_rows))
    v_sess = np.repeat(np.arange(len(s_rows)), views_per)
    v_ts = s_start[v_sess] + np.floor(rng.random(len(v_sess)) * 6.9 * DAY_S).astype(np.int64)
    v_c, v_k = pair_c[s_rows[v_sess]], pair_k[s_rows[v_sess]]
    first_session = np.full(len(pair_c), np.iinfo(np.int64).max)
    np.minimum.at(first_session, s_rows, s_start)
    # favourites and add-to-cart within the session
    fav = rng.random(len(s_rows)) < cfg.favourite_prob
    cart = rng.random(len(s_rows)) < cfg.add_to_cart_prob
    f_ts = s_start[fav] + np.floor(rng.random(int(fav.sum())) * 6.9 * DAY_S).astype(np.int64)
    a_ts = s_start[cart] + np.floor(rng.random(int(cart.sum())) * 6.9 * DAY_S).astype(np.int64)

    # --- background views, coupon claims and check-ins ---------------------------------------
    # browsing intensity varies (exponential around the mean), so heavy browsers make false bursts
    b_c, b_ts = _poisson_times(rng, rng.exponential(cfg.background_views_per_year, n), join_s, last_s)
    b_k = rng.integers(0, k, len(b_c))
    claims_rate = np.where(dependent, cfg.dependent_coupon_claims_per_year, cfg.coupon_claims_per_year)
    q_c, q_ts = _poisson_times(rng, claims_rate, join_s, last_s)
    h_c, h_ts = _poisson_times(rng, np.full(n, cfg.checkins_per_year), join_s, last_s)

    ev_code = np.concatenate([v_c, b_c, pair_c[s_rows[fav]], pair_c[s_rows[cart]], q_c, h_c])
    ev_ts = np.concatenate([v_ts, b_ts, f_ts, a_ts, q_ts, h_ts])
    ev_cat = np.concatenate([v_k, b_k, pair_k[s_rows[fav]], pair_k[s_rows[cart]],
                             np.full(len(q_c), -1), np.full(len(h_c), -1)])
    ev_type = np.concatenate([
        np.zeros(len(v_c) + len(b_c), dtype=np.int64), np.full(int(fav.sum()), 1), np.full(int(cart.sum()), 2),
        np.full(len(q_c), 3), np.full(len(h_c), 4),
    ])
    online = np.array(ONLINE_EVENT_CHANNELS)
    ev_channel = np.where(ev_type == 4, "store", online[rng.integers(0, len(online), len(ev_ts))])
    keep = ev_ts <= end_s
    order = np.lexsort((ev_type[keep], ev_ts[keep], ev_code[keep]))
    cat_labels = np.append(categories, "")
    events = pd.DataFrame({
        CUSTOMER_ID: ids[ev_code[keep][order]],
        TIMESTAMP: pd.to_datetime(ev_ts[keep][order], unit="s"),
        "event_type": np.array(EVENT_TYPES)[ev_type[keep][order]],
        CHANNEL: ev_channel[keep][order],
        CATEGORY: cat_labels[ev_cat[keep][order]],
    })

    # --- transactions: wait for promotions, coupons, discounts, interest purchases ----------
    tx = transactions.reset_index(drop=True).copy()
    code = np.searchsorted(ids, tx[CUSTOMER_ID].to_numpy())
    if (code >= n).any() or (ids[np.minimum(code, n - 1)] != tx[CUSTOMER_ID].to_numpy()).any():
        raise ConfigError("the tags extension found transactions of customers missing from the customers table.")
    ts_s = tx[TIMESTAMP].to_numpy().astype("datetime64[s]").astype(np.int64)
    is_return = tx["is_return"].to_numpy(dtype=bool)
    orders, o_idx = np.unique(tx[ORDER_ID].to_numpy(), return_inverse=True)
    o_first_line = np.full(len(orders), len(tx))
    np.minimum.at(o_first_line, o_idx, np.where(is_return, len(tx), np.arange(len(tx))))
    o_ts = ts_s[np.minimum(o_first_line, len(tx) - 1)]
    o_code = code[np.minimum(o_first_line, len(tx) - 1)]
    o_join = o_ts // DAY_S == join_s[o_code] // DAY_S

    cal = promotion_days(pd.Timestamp(int(min(join_s.min(), ts_s.min())), unit="s"), end_day, cfg)
    cal_s = cal["day"].to_numpy().astype("datetime64[s]").astype(np.int64)
    promo_day = cal["promotion"].to_numpy() != ""
    # next promotion day on or after each day (index into cal), len(cal) when none
    idx = np.where(promo_day, np.arange(len(cal)), len(cal))
    next_promo = np.minimum.accumulate(idx[::-1])[::-1]
    o_day = np.clip((o_ts - cal_s[0]) // DAY_S, 0, len(cal) - 1)
    target = next_promo[o_day]
    wait = dependent[o_code] & ~o_join & (rng.random(len(orders)) < cfg.dependent_wait_prob) & (target < len(cal))
    shift = np.where(wait, (np.minimum(target, len(cal) - 1) - o_day) * DAY_S, 0)
    new_ts = ts_s + shift[o_idx]
    new_o_day = o_day + shift // DAY_S
    o_promo = cal["promotion"].to_numpy()[new_o_day].astype(object)
    o_rate = cal["rate"].to_numpy()[new_o_day]
    coupon_p = np.where(dependent[o_code], cfg.dependent_coupon_prob, cfg.coupon_prob)
    coupon = (o_promo == "") & (rng.random(len(orders)) < coupon_p)
    o_promo[coupon], o_rate[coupon] = COUPON, cfg.coupon_rate

    # interest purchases: lines after the first session switch to an interest category
    n_int = interested.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(n_int)[:-1]])
    has = n_int[code] > 0
    pick = offsets[code] + np.floor(rng.random(len(tx)) * np.maximum(n_int[code], 1)).astype(np.int64)
    pick = np.where(has, np.minimum(pick, max(len(pair_c) - 1, 0)), 0)
    switch = has & ~is_return & (rng.random(len(tx)) < cfg.interest_purchase_prob)
    if len(pair_c):
        switch &= new_ts > first_session[pick]
    new_cat = tx[CATEGORY].to_numpy().astype(object)
    new_cat[switch] = categories[pair_k[pick[switch]]]
    # a return line takes its purchase line's category (same order and line number)
    if "line_no" in tx:
        line_key = pd.MultiIndex.from_arrays([tx[ORDER_ID], tx["line_no"]])
        bought = pd.Series(new_cat[~is_return], index=line_key[~is_return])
        ret_cat = bought.reindex(line_key[is_return]).to_numpy()
        new_cat[is_return] = np.where(pd.isna(ret_cat), new_cat[is_return], ret_cat)

    rate = o_rate[o_idx]
    amount = tx["amount"].to_numpy(dtype=float)
    extra = np.where(is_return, 0.0, np.round(amount * rate / (1.0 - rate), 2))
    tx[TIMESTAMP] = pd.to_datetime(new_ts, unit="s")
    tx[CATEGORY] = new_cat
    tx["discount"] = np.round(tx["discount"].to_numpy(dtype=float) + extra, 2)
    tx["promotion"] = o_promo[o_idx]
    tx = tx[new_ts <= end_s]
    tx = tx.sort_values([CUSTOMER_ID, TIMESTAMP, ORDER_ID] + (["line_no"] if "line_no" in tx else []),
                        kind="stable").reset_index(drop=True)

    # --- birthdays ------------------------------------------------------------------------
    doy = rng.integers(0, 366, n)
    born = pd.Timestamp("2024-01-01") + pd.to_timedelta(doy, unit="D")  # a leap year: 29 Feb included
    missing = rng.random(n) < cfg.birthday_missing_share
    birthdays = pd.DataFrame({
        CUSTOMER_ID: ids,
        "birth_month": pd.array(np.where(missing, 0, born.month), dtype="Int64"),
        "birth_day": pd.array(np.where(missing, 0, born.day), dtype="Int64"),
    })
    birthdays.loc[missing, ["birth_month", "birth_day"]] = pd.NA

    truth_interest = pd.DataFrame({
        CUSTOMER_ID: ids[pair_c], CATEGORY: categories[pair_k],
        "first_session": pd.to_datetime(np.where(first_session < np.iinfo(np.int64).max, first_session, -1), unit="s"),
        "sessions": np.bincount(s_rows, minlength=len(pair_c)),
    })
    truth_interest.loc[truth_interest["sessions"] == 0, "first_session"] = pd.NaT
    truth_promotion = pd.DataFrame({CUSTOMER_ID: ids, "promotion_dependent": dependent})
    promo_orders = o_promo != ""
    truth = {
        "extension": "helpers.data.generator.tags",
        "version": TAGS_EXTENSION_VERSION,
        "config": cfg.to_dict(),
        "interest_pairs": int(len(pair_c)),
        "interest_pairs_with_a_session": int((truth_interest["sessions"] > 0).sum()),
        "promotion_dependent_customers": int(dependent.sum()),
        "orders_moved_to_a_promotion_day": int(wait.sum()),
        "share_of_orders_in_promotion_dependent": float(promo_orders[dependent[o_code]].mean()) if dependent.any() else None,
        "share_of_orders_in_promotion_other": float(promo_orders[~dependent[o_code]].mean()) if (~dependent).any() else None,
        "purchase_lines_switched_to_interest": int(switch.sum()),
        "events": int(len(events)),
    }
    return TagData(tx, events, birthdays, truth_interest, truth_promotion, truth)


def write_tag_tables(data: TagData, folder, fmt: str = "csv", parquet: tuple[str, ...] = ()) -> dict:
    """Write the extension's tables (``transactions`` replaces the core file: same columns plus
    ``promotion``) and ``truth_tags.json`` into ``folder``; returns the paths. Tables named in
    ``parquet`` are written as Parquet whatever ``fmt`` says."""
    import json
    from pathlib import Path

    from helpers.files import write_text_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in data.tables.items():
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                fmt_s = "%Y-%m-%d" if col == "join_date" else "%Y-%m-%d %H:%M:%S"
                out[col] = out[col].dt.strftime(fmt_s)
        table_fmt = "parquet" if name in parquet else fmt
        path = folder / f"{name}.{table_fmt}"
        if table_fmt == "csv":
            write_text_atomic(path, out.to_csv(index=False, float_format="%.2f", lineterminator="\n"))
        else:
            # cents, as the CSV's float_format writes them, so both formats read back the same values
            floats = out.select_dtypes("float").columns
            out[floats] = out[floats].round(2)
            out.to_parquet(path, index=False)
        paths[name] = path
    paths["truth"] = folder / "truth_tags.json"
    write_text_atomic(paths["truth"], json.dumps(data.truth, indent=2, ensure_ascii=False) + "\n")
    return paths


@dataclass
class _TagExtension:
    data: TagData

    def write(self, folder, fmt: str) -> dict:
        return write_tag_tables(self.data, folder, fmt)


def extend(data, config) -> TagData:
    """Add the tags extension to a generated :class:`~helpers.data.generator.NewRetailData`
    (the generator calls this when ``config.tags_extension`` is on): its transactions gain
    ``promotion`` and promotion discounts, and the extension's tables are written with it."""
    cfg = TagDataConfig(seed=config.seed, festivals=tuple(tuple(p) for p in config.promotions))
    tag_data = simulate_tag_data(data.customers, data.transactions, end=config.end, config=cfg)
    data.transactions = tag_data.transactions
    data.extensions["tags"] = _TagExtension(tag_data)
    data.truth["tags"] = tag_data.truth
    return tag_data
