"""Private-domain community (私域) tables generated from the core data, with planted truth.

A function of the core tables (customers, transactions, truth_customers) and a seed, so it
can run on any generated dataset (including the committed ``data/newretail``) without
changing the core tables. Rules (documented in ``data/README.md``):

- **WeChat contacts**: a customer adds the brand's guide on WeCom (企业微信) with probability
  ``wechat_add_rate`` (higher for customers who joined in a store), on a day after joining;
  reachable = added and consented to WeChat marketing (``marketing_wechat``).
- **Groups**: 福利群 (``welfare``: deals), 兴趣群 (``interest``: topics), VIP群 (``vip``). A WeChat
  contact joins a welfare group with probability ``join_rate['welfare']``, an interest group
  with ``join_rate['interest']``; a VIP group if their first-year spend reaches ``vip_spend``.
  Groups hold at most ``group_size`` members. Members leave after an exponential time with
  mean ``mean_stay_days`` (censored at the end).
- **Activity**: a member is active in a month of membership (sent a message or attended an
  event) with probability ``activity_rate[type]`` (x ``kol_activity`` for KOL-like members,
  capped at 0.95): the planted monthly activity rates. Messages per active month 1 + Poisson(3)
  (x3 for KOLs), events attended Binomial(2, 0.3).
- **Referrals**: each customer who joined after the first ``referral_lead_days`` days is a
  referred customer with probability ``referral_share`` x w / mean(w), where w = (latent
  first-year value)^``referred_value_tilt``: referred customers are worth more, by a planted,
  known amount (the truth: mean latent first-year value of referred minus non-referred
  customers, among customers who joined at least 365 days before the end). The latent
  first-year value of a customer with purchase rate lambda, dropout probability p and mean spend
  m is m x (1 + (1 - exp(-lambda p 365)) / p) (the join purchase plus the BG/NBD expected repeats).
  The inviter is drawn among the WeChat contacts who joined earlier, with weight ``kol_weight``
  for KOL-like members (``kol_share`` of them) and 1 otherwise. Every successful invitation
  comes with Geometric failed ones so that invitations convert with probability
  ``invite_conversion``.

Planted truth returned with the tables: activity rates, referral share and conversion, the
KOL share and the expected share of referrals they drive, the referred-customer value
difference, and a per-customer truth table (KOL flag, referred flag, latent value).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from helpers.errors import ConfigError

GROUP_TYPES: tuple[str, ...] = ("welfare", "interest", "vip")
DAY_NS = 86_400 * 10**9


def _mix(**kw: float):
    return field(default_factory=lambda: dict(kw))


@dataclass(frozen=True)
class CommunitySettings:
    """Every number that shapes the community tables (see the module docstring)."""

    seed: int = 16
    wechat_add_rate: float = 0.45
    wechat_add_rate_store: float = 0.65
    join_rate: dict = _mix(welfare=0.6, interest=0.35)
    vip_spend: float = 1500.0
    group_size: int = 400
    mean_stay_days: float = 540.0
    activity_rate: dict = _mix(welfare=0.30, interest=0.60, vip=0.50)
    kol_share: float = 0.05
    kol_activity: float = 1.5
    kol_weight: float = 20.0
    referral_share: float = 0.20
    referral_lead_days: int = 60
    referred_value_tilt: float = 0.6
    invite_conversion: float = 0.25

    def __post_init__(self) -> None:
        for name in ("wechat_add_rate", "wechat_add_rate_store", "kol_share", "referral_share", "invite_conversion"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
                raise ConfigError(f"community setting {name} must be a number between 0 and 1, not {v!r}.")
        for name, keys in (("join_rate", GROUP_TYPES[:2]), ("activity_rate", GROUP_TYPES)):
            rates = getattr(self, name)
            if not isinstance(rates, dict) or set(rates) != set(keys) or not all(0 <= v <= 1 for v in rates.values()):
                raise ConfigError(f"community setting {name} must give a share in [0, 1] for each of {list(keys)}, not {rates!r}.")
        for name in ("vip_spend", "mean_stay_days", "kol_activity", "kol_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"community setting {name} must be > 0, not {getattr(self, name)!r}.")
        if not (isinstance(self.group_size, int) and 2 <= self.group_size <= 500):
            raise ConfigError(f"community setting group_size must be a whole number in 2..500 (WeChat's limit), not {self.group_size!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def latent_first_year_value(truth_customers: pd.DataFrame) -> np.ndarray:
    """m x (1 + (1 - exp(-lambda p 365)) / p): expected spend in the first 365 days after joining."""
    lam = truth_customers["lambda_per_day"].to_numpy(float)
    p = np.maximum(truth_customers["dropout_probability"].to_numpy(float), 1e-9)
    m = truth_customers["mean_spend_per_purchase_day"].to_numpy(float)
    return m * (1.0 + (1.0 - np.exp(-lam * p * 365.0)) / p)


def _days(ts: pd.Series | np.ndarray) -> np.ndarray:
    return (pd.to_datetime(ts).to_numpy().astype("datetime64[D]").astype(np.int64))


def simulate_community(customers: pd.DataFrame, transactions: pd.DataFrame, truth_customers: pd.DataFrame,
                       end, settings: CommunitySettings | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """The community tables (``community_members``, ``community_activity``, ``wechat_contacts``,
    ``referrals``, ``truth_community``) and the planted truth."""
    s = settings or CommunitySettings()
    rng = np.random.default_rng(np.random.SeedSequence(s.seed, spawn_key=(16,)))
    cu = customers.sort_values("customer_id").reset_index(drop=True)
    n = len(cu)
    ids = cu["customer_id"].to_numpy()
    tc = truth_customers.set_index("customer_id").reindex(ids)
    value = latent_first_year_value(tc.reset_index())
    join = _days(cu["join_date"])
    end_day = int(_days(pd.Series([pd.Timestamp(end)]))[0])
    start_day = int(join.min())

    # --- WeChat contacts ------------------------------------------------------------------
    store = cu["join_channel"].eq("store").to_numpy() if "join_channel" in cu else np.zeros(n, bool)
    added = rng.random(n) < np.where(store, s.wechat_add_rate_store, s.wechat_add_rate)
    added_day = join + np.floor(rng.exponential(30.0, n)).astype(np.int64)
    added &= added_day <= end_day
    consent = cu["marketing_wechat"].astype(bool).to_numpy() if "marketing_wechat" in cu else np.ones(n, bool)
    contacts = pd.DataFrame({
        "customer_id": ids[added], "added_at": (added_day[added]).astype("datetime64[D]"),
        "wechat_consent": consent[added],
    })

    # --- groups ----------------------------------------------------------------------------
    tx = transactions[["customer_id", "timestamp", "amount"]]
    tx_code = pd.Index(ids).get_indexer(tx["customer_id"])
    tx_day = _days(tx["timestamp"])
    first_year = (tx_code >= 0) & (tx_day < join[np.maximum(tx_code, 0)] + 365)
    spend_1y = np.bincount(tx_code[first_year], weights=tx["amount"].to_numpy(float)[first_year], minlength=n)
    kol = added & (rng.random(n) < s.kol_share)
    rows = []
    for t_index, gtype in enumerate(GROUP_TYPES):  # three group types
        if gtype == "vip":
            qualifies = added & (spend_1y >= s.vip_spend)
            # joins the VIP group on the day the first-year spend crossed the line: approximated by
            # the middle of the first year, never before the WeChat add
            day = np.maximum(added_day, join + 180)
            member = qualifies & (day <= end_day)
        else:
            member = added & (rng.random(n) < s.join_rate[gtype])
            day = added_day + rng.integers(0, 60, n)
            member &= day <= end_day
        code = np.flatnonzero(member)
        jd = day[code]
        order = np.argsort(jd, kind="stable")
        group_no = np.empty(len(code), np.int64)
        group_no[order] = np.arange(len(code)) // s.group_size
        stay = np.floor(rng.exponential(s.mean_stay_days, len(code))).astype(np.int64) + 1
        left = jd + stay
        rows.append(pd.DataFrame({
            "code": code, "group_type": gtype, "group_id": [f"{gtype[0].upper()}{g + 1:03d}" for g in group_no] if len(code) else [],
            "join_day": jd, "left_day": np.where(left <= end_day, left, -1),
        }))
    members = pd.concat(rows, ignore_index=True)

    # --- activity per member-month ---------------------------------------------------------
    first_m = (members["join_day"].to_numpy().astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
    stop = np.where(members["left_day"] >= 0, members["left_day"], end_day)
    last_m = (stop.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
    n_months = last_m - first_m + 1
    mm_member = np.repeat(np.arange(len(members)), n_months)
    mm_month = first_m[mm_member] + (np.arange(len(mm_member)) - np.repeat(np.cumsum(n_months) - n_months, n_months))
    code = members["code"].to_numpy()
    gt = members["group_type"].to_numpy()
    base_rate = np.select([gt == g for g in GROUP_TYPES], [s.activity_rate[g] for g in GROUP_TYPES])
    rate = np.where(kol[code], np.minimum(base_rate * s.kol_activity, 0.95), base_rate)
    active = rng.random(len(mm_member)) < rate[mm_member]
    am, amon = mm_member[active], mm_month[active]
    messages = 1 + rng.poisson(3.0 * np.where(kol[code[am]], 3.0, 1.0))
    events = rng.binomial(2, 0.3, len(am))
    activity = pd.DataFrame({
        "customer_id": ids[code[am]], "group_id": members["group_id"].to_numpy()[am],
        "month": amon.astype("datetime64[M]").astype("datetime64[D]"), "messages": messages, "events_attended": events,
    })

    # --- referrals -------------------------------------------------------------------------
    w = np.power(np.maximum(value, 1e-9), s.referred_value_tilt)
    eligible = join >= start_day + s.referral_lead_days
    prob = np.zeros(n)
    prob[eligible] = np.minimum(s.referral_share * w[eligible] / w[eligible].mean(), 1.0)
    inviter_pool = np.flatnonzero(added)
    weight = np.where(kol[inviter_pool], s.kol_weight, 1.0)
    pool_order = np.argsort(added_day[inviter_pool], kind="stable")
    pool = inviter_pool[pool_order]
    pool_day = added_day[pool]
    cumw = np.cumsum(weight[pool_order])
    before = np.searchsorted(pool_day, join, side="left")  # contacts added before each customer joined
    prob[before == 0] = 0.0  # nobody could have invited them
    referred = (rng.random(n) < prob) & eligible
    ref = np.flatnonzero(referred)
    k = before[ref]
    u = rng.random(len(ref)) * cumw[k - 1]
    inviter = pool[np.searchsorted(cumw, u, side="right")]
    fails = rng.geometric(s.invite_conversion, len(ref)) - 1  # failed invitations before each success
    f_inviter = np.repeat(inviter, fails)
    f_day = added_day[f_inviter] + np.floor(rng.random(len(f_inviter)) * np.maximum(end_day - added_day[f_inviter], 1)).astype(np.int64)
    referrals = pd.DataFrame({
        "inviter_id": np.concatenate([ids[inviter], ids[f_inviter]]),
        "invitee_id": np.concatenate([ids[ref], np.full(len(f_inviter), None, dtype=object)]),
        "invited_at": np.concatenate([join[ref] - rng.integers(0, 7, len(ref)), f_day]).astype("datetime64[D]"),
        "converted": np.concatenate([np.ones(len(ref), bool), np.zeros(len(f_inviter), bool)]),
    }).sort_values(["invited_at", "inviter_id"], kind="stable").reset_index(drop=True)

    members_out = pd.DataFrame({
        "customer_id": ids[code], "group_id": members["group_id"], "group_type": members["group_type"],
        "joined_at": members["join_day"].to_numpy().astype("datetime64[D]"),
        "left_at": pd.to_datetime(np.where(members["left_day"] >= 0, members["left_day"], np.iinfo(np.int64).min).astype("datetime64[D]"), errors="coerce"),
    }).sort_values(["customer_id", "group_type"], kind="stable").reset_index(drop=True)
    truth_table = pd.DataFrame({"customer_id": ids, "kol": kol, "referred": referred, "latent_first_year_value": value})

    # --- planted truth ------------------------------------------------------------------------
    mature = join <= end_day - 365
    ref_m, non_m = mature & referred, mature & ~referred
    kol_inv = kol[inviter]
    exp_kol = s.kol_share * s.kol_weight / (s.kol_share * s.kol_weight + 1 - s.kol_share)
    truth = {
        "settings": s.to_dict(),
        "activity_rate_non_kol": dict(s.activity_rate),
        "kol_activity_multiplier": s.kol_activity,
        "invite_conversion": s.invite_conversion,
        "kol_members": int(kol.sum()),
        "kol_share_of_contacts": float(kol.sum() / max(added.sum(), 1)),
        "expected_kol_share_of_referrals": float(exp_kol),
        "realised_kol_share_of_referrals": float(kol_inv.mean()) if len(ref) else float("nan"),
        "referred_customers": int(referred.sum()),
        "customers": int(n),
        "k_factor": float(referred.sum() / n),
        "expected_k_factor": float(prob.sum() / n),
        "k_factor_sd": float(np.sqrt((prob * (1 - prob)).sum()) / n),
        "referred_value": {
            "definition": "mean latent first-year value (CNY) of referred minus non-referred customers who joined at least 365 days before the end",
            "referred_mean": float(value[ref_m].mean()) if ref_m.any() else float("nan"),
            "non_referred_mean": float(value[non_m].mean()) if non_m.any() else float("nan"),
            "difference": float(value[ref_m].mean() - value[non_m].mean()) if ref_m.any() and non_m.any() else float("nan"),
            "customers_referred": int(ref_m.sum()), "customers_non_referred": int(non_m.sum()),
        },
    }
    tables = {"community_members": members_out, "community_activity": activity, "wechat_contacts": contacts,
              "referrals": referrals, "truth_community": truth_table}
    return tables, truth


COMMUNITY_TABLES = ("community_members", "community_activity", "wechat_contacts", "referrals", "truth_community")


def from_generated(data, settings: CommunitySettings | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """The community tables of a :class:`~helpers.data.generator.NewRetailData`."""
    end = data.truth["config"]["end"]
    return simulate_community(data.customers, data.purchases(), data.truth_customers, end, settings)
