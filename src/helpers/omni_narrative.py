"""Plain-language text and reader-facing tables of the omnichannel page."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .labels import label
from .narrative import count, money, pct
from .omnichannel import CLV_HOLDOUT_DAYS, OmnichannelStudy
from .tables import styled

#: Ratio (multi / single) within which two groups are described as "about the same".
SIMILAR_RATIO = 0.10
#: Change of a channel's revenue share (first vs last three months, percentage points)
#: below which the mix is called stable.
STABLE_SHARE_PP = 0.03

#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "omnichannel"

def title() -> str:
    return (
        "# Omnichannel: where do customers buy, and does buying in several channels go with more value?\n\n"
        "This page shows how orders and revenue split across channels, compares customers who buy in one "
        "channel with those who use several (how often they buy, how much per visit, their predicted lifetime "
        "value), follows customers from their first channel to the channels they use later, and looks at store "
        "and online together."
    )


def _repeat_groups(study: OmnichannelStudy) -> pd.DataFrame:
    return study.groups[study.groups["population"] == "repeat"].set_index("group")


def _ratio(a: float, b: float) -> float:
    return a / b if b and np.isfinite(a) and np.isfinite(b) else float("nan")


def _how_often(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "(not comparable) as often as"
    if abs(ratio - 1) <= SIMILAR_RATIO:
        return "about as often as"
    return f"{ratio:.1f} times as often as" if ratio > 1 else f"{pct(1 - ratio)} less often than"


def _how_much(ratio: float) -> str:
    if not np.isfinite(ratio):
        return "an amount that cannot be compared"
    if abs(ratio - 1) <= SIMILAR_RATIO:
        return "about the same"
    return f"{pct(ratio - 1)} more" if ratio > 1 else f"{pct(1 - ratio)} less"


def _both_groups(g: pd.DataFrame) -> bool:
    return all(k in g.index and g.loc[k, "customers"] > 0 for k in ("single", "multi"))


def _one_group_only(g: pd.DataFrame) -> str:
    present = [k for k in ("single", "multi") if k in g.index and g.loc[k, "customers"] > 0]
    if not present:
        return "No customer has bought twice yet, so single- and multi-channel customers cannot be compared."
    return (
        f"Every repeat buyer is {label(present[0]).lower()}, so there is no other group to compare them with."
    )


def headline(study: OmnichannelStudy, currency: str) -> str:
    m = study.metrics
    g = _repeat_groups(study)
    top = study.mix.iloc[0]
    opening = f"**{label(top['channel'])} brings {pct(top['revenue_share'])} of revenue. "
    if _both_groups(g):
        opening += (
            f"{pct(m['multi_share_repeat'])} of repeat buyers use more than one channel, and they buy "
            f"{_how_often(_ratio(g.loc['multi', 'purchase_days_per_year'], g.loc['single', 'purchase_days_per_year']))} "
            f"single-channel repeat buyers ({g.loc['multi', 'purchase_days_per_year']:.1f} vs "
            f"{g.loc['single', 'purchase_days_per_year']:.1f} purchase days a year), while spending "
            f"{_how_much(_ratio(g.loc['multi', 'spend_per_purchase_day'], g.loc['single', 'spend_per_purchase_day']))} "
            f"per purchase day ({money(g.loc['multi', 'spend_per_purchase_day'], currency)} vs "
            f"{money(g.loc['single', 'spend_per_purchase_day'], currency)}).**"
        )
    else:
        opening += _one_group_only(g) + "**"
    lines = [opening, ""]
    if _both_groups(g) and "clv_mean" in g and np.isfinite(g.loc[["single", "multi"], "clv_mean"]).all():
        lines.append(
            f"- **Predicted value:** a multi-channel repeat buyer is expected to bring "
            f"{money(g.loc['multi', 'clv_mean'], currency)} of margin in the next "
            f"{study.clv_info['settings']['horizon_months']} months, a single-channel one "
            f"{money(g.loc['single', 'clv_mean'], currency)}."
        )
    crossing = study.crossing.set_index("first_mode")
    if "offline" in crossing.index and crossing.loc["offline", "repeat_buyers"]:
        row = crossing.loc["offline"]
        lines.append(
            f"- **Store to online:** {pct(row['crossed_share'])} of store-first repeat buyers later bought online "
            f"(half of them within {row['median_days_to_cross']:.0f} days of their first purchase)."
        )
    if len(study.migration.paths):
        path = study.migration.paths.iloc[0]
        lines.append(
            f"- **Most common move:** from {label(path['first_channel'])} to {label(path['later_channel'])} "
            f"({count(path['customers'])} customer{'s' if path['customers'] != 1 else ''})."
        )
    lines.append(
        "- **Read with care:** customers who buy often have more chances to try a second channel, so part of the "
        "gap is frequency causing multi-channel use, not the reverse. Only a test can show that moving a customer "
        "to a second channel makes them buy more."
    )
    return "\n".join(lines)


def actions(study: OmnichannelStudy, currency: str) -> str:
    paths = study.migration.paths
    offline = study.crossing.set_index("first_mode")
    items = []
    if len(paths):
        p = paths.iloc[0]
        items.append(
            f"**Make the natural next channel easy:** the most common move is {label(p['first_channel'])} → "
            f"{label(p['later_channel'])}. Put the invitation where the first purchase happens (receipt, parcel, "
            "order confirmation) with the membership and points carried over."
        )
    if "offline" in offline.index:
        items.append(
            f"**Invite store customers online early:** those who cross do so within about "
            f"{offline.loc['offline', 'median_days_to_cross']:.0f} days (median); an invitation after the first or "
            "second store visit matches that timing."
        )
    items.append(
        "**Test before scaling:** invite a random half of single-channel repeat buyers to a second channel and "
        "compare purchase frequency with the other half after 90 days (see the pilot page). The gap on this page "
        "is an association and may be smaller once tested."
    )
    items.append(
        "**Keep one customer view:** points, coupons and service must work in every channel, or the second "
        "channel becomes a reason to leave rather than to stay."
    )
    items.append(
        f"**Judge channels by the customers they bring, not only by revenue:** {label(study.mix.iloc[0]['channel'])} "
        "leads on revenue, but the migration table shows which channels open the relationship for the others."
    )
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))


def mix(study: OmnichannelStudy, currency: str) -> str:
    mx = study.mix
    top = mx.iloc[0]
    high_aov = mx.loc[mx["average_order_value"].idxmax()]
    low_aov = mx.loc[mx["average_order_value"].idxmin()]
    return (
        f"Bars compare each channel's share of orders, of revenue and of customers who used it at least once (a "
        f"multi-channel customer counts in each, so those bars add up to more than 100%). {label(top['channel'])} "
        f"leads with {pct(top['order_share'])} of orders and {pct(top['revenue_share'])} of revenue. Orders are "
        f"largest in {label(high_aov['channel'])} ({money(high_aov['average_order_value'], currency)} on average) "
        f"and smallest in {label(low_aov['channel'])} ({money(low_aov['average_order_value'], currency)})."
    )


def monthly_share(study: OmnichannelStudy) -> str:
    share = study.monthly_share
    if len(share) < 6:
        return "The data cover too few months to show a trend in the channel mix."
    first, last = share.head(3).mean(), share.tail(3).mean()
    change = (last - first).dropna()
    biggest = change.abs().idxmax()
    if abs(change[biggest]) < STABLE_SHARE_PP:
        return (
            "Each band is a channel's share of the month's revenue. The mix is stable: no channel's share moved by "
            f"more than {pct(STABLE_SHARE_PP)} between the first and the last three months."
        )
    direction = "grew" if change[biggest] > 0 else "shrank"
    return (
        f"Each band is a channel's share of the month's revenue. The largest shift: {label(biggest)} {direction} "
        f"from {pct(first[biggest])} in the first three months to {pct(last[biggest])} in the last three. Single "
        "months move with festivals (618, Double 11), so look at several months before reacting."
    )


def groups(study: OmnichannelStudy, currency: str) -> str:
    g = _repeat_groups(study)
    all_rows = study.groups[study.groups["population"] == "all"].set_index("group")
    if not _both_groups(g):
        return _one_group_only(g)
    text = (
        f"One-time buyers are single-channel by definition, so the bars compare repeat buyers only "
        f"({count(g['customers'].sum())} customers; {pct(all_rows.loc['multi', 'share'])} of all customers are "
        f"multi-channel). Multi-channel repeat buyers make {g.loc['multi', 'purchase_days_per_year']:.1f} purchase "
        f"days a year against {g.loc['single', 'purchase_days_per_year']:.1f}, and spend "
        f"{money(g.loc['multi', 'spend_per_purchase_day'], currency)} per purchase day against "
        f"{money(g.loc['single', 'spend_per_purchase_day'], currency)}: "
    )
    ratio = _ratio(g.loc["multi", "spend_per_purchase_day"], g.loc["single", "spend_per_purchase_day"])
    if np.isfinite(ratio) and abs(ratio - 1) <= SIMILAR_RATIO:
        text += "the difference is in how often they come, not in the size of the basket."
    else:
        text += "they differ in basket size as well as in frequency."
    if "clv_mean" in g and np.isfinite(g.loc[["single", "multi"], "clv_mean"]).all():
        err = study.clv_info.get("holdout_total_error_pct")
        text += (
            f" Predicted CLV (the {study.clv_info.get('model_label', 'purchase')} and Gamma-Gamma models of the CLV "
            f"page, fitted on all customers) follows the same pattern: {money(g.loc['multi', 'clv_mean'], currency)} "
            f"vs {money(g.loc['single', 'clv_mean'], currency)} on average."
        )
        if err is not None:
            text += (
                f" On the last {CLV_HOLDOUT_DAYS} days, held out, the model's total repeat purchases were off by "
                f"{err:+.1f}%."
            )
    elif study.clv_info.get("error"):
        text += f" CLV is not shown: the models could not be fitted ({study.clv_info['error']})."
    return text


def bands(study: OmnichannelStudy, currency: str) -> str:
    b = study.bands.dropna(subset=["multi_share"])
    if b.empty:
        return ""
    low, high = b.iloc[0], b.iloc[-1]
    text = (
        f"Like for like: among customers with {low['purchase_days']} purchase days, {pct(low['multi_share'])} used "
        f"several channels; among those with {high['purchase_days']}, {pct(high['multi_share'])}. Multi-channel use "
        "rises with frequency, which is why the comparison above cannot prove that a second channel makes "
        "customers buy more."
    )
    both = b.dropna(subset=["spend_per_purchase_day_single", "spend_per_purchase_day_multi"])
    if len(both):
        ratios = both["spend_per_purchase_day_multi"] / both["spend_per_purchase_day_single"]
        if (ratios.sub(1).abs() <= SIMILAR_RATIO).all():
            text += " Within each band, spend per purchase day is about the same for single- and multi-channel customers."
        else:
            text += (
                f" Within bands, multi-channel spend per purchase day ranges from {pct(ratios.min() - 1)} to "
                f"{pct(ratios.max() - 1)} compared with single-channel customers."
            )
    return text


def migration(study: OmnichannelStudy) -> str:
    mg = study.migration
    rows = []
    for channel in mg.repeat.index:
        n = mg.repeat[channel]
        if n:
            rows.append((channel, mg.stayed[channel] / n, n))
    if not rows:
        return "Nobody has bought again yet, so there is no migration to show."
    rows.sort(key=lambda r: r[1])
    loosest, tightest = rows[0], rows[-1]
    text = (
        "Each row takes the customers whose first purchase was in one channel and who bought again on a later "
        "day; each cell is the share of them who later bought in the column's channel (a customer can count in "
        "several columns). The diagonal is the share who came back to the same channel. "
        f"{label(tightest[0])} holds its customers most ({pct(tightest[1])} of its {count(tightest[2])} repeat buyers "
        f"never used another channel later); {label(loosest[0])} least ({pct(loosest[1])})."
    )
    if len(mg.paths):
        top = mg.paths.head(3)
        listed = "; ".join(
            f"{label(r.first_channel)} → {label(r.later_channel)}: {count(r.customers)} ({pct(r.share_of_first_channel_repeaters)})"
            for r in top.itertuples()
        )
        text += f" The most frequent moves to another channel: {listed}."
    return text


def online_offline(study: OmnichannelStudy, currency: str) -> str:
    c = study.crossing.set_index("first_mode")
    offline_names = ", ".join(label(x) for x in study.offline_channels)
    parts = [f"Offline means {offline_names}; every other channel counts as online."]
    for mode, other in (("offline", "online"), ("online", "in a store")):
        if mode in c.index and c.loc[mode, "repeat_buyers"]:
            row = c.loc[mode]
            parts.append(
                f"Of {count(row['repeat_buyers'])} {'store' if mode == 'offline' else 'online'}-first repeat buyers, "
                f"{pct(row['crossed_share'])} later bought {other}"
                + (f", after {row['median_days_to_cross']:.0f} days (median)." if np.isfinite(row["median_days_to_cross"]) else ".")
            )
    v = study.store_first_value.set_index("segment")
    if {"later_online", "offline_only"} <= set(v.index) and v.loc["later_online", "customers"]:
        a, b = v.loc["later_online"], v.loc["offline_only"]
        parts.append(
            f"Store-first repeat buyers who went online make {a['purchase_days_per_year']:.1f} purchase days and "
            f"{money(a['spend_per_year'], currency)} a year, against {b['purchase_days_per_year']:.1f} and "
            f"{money(b['spend_per_year'], currency)} for those who stayed in stores (the same caution applies: "
            "frequent buyers are the ones who find the second channel)."
        )
    return " ".join(parts)


def method(study: OmnichannelStudy, *, returns_policy: str, include_clv: bool) -> str:
    lines = [
        f"- **Observation end** {study.metrics['observation_end']}; later rows are left out and counted below.",
        "- **Order**: one order id of one customer (all its lines); without order ids every row is an order. Its "
        "channel is the channel of its first line. **Purchase day**: a day with at least one order.",
        f"- **Returns** (`returns_policy: {returns_policy}`): \"drop\" leaves negative rows out, right for the "
        "generated data where returns are separate rows.",
        "- **Single- / multi-channel**: one / two or more channels used up to the observation end. Rates per year "
        "are ratios of sums: a group's purchase days (or spend) divided by the years its customers were observed "
        "(first purchase to observation end).",
        "- **First channel**: channel of the earliest order. **Later channels**: channels of orders on later days "
        "(other orders on the first day do not count as a move).",
        f"- **Offline channels** (`offline_channels`): {', '.join(label(c) for c in study.offline_channels)}.",
    ]
    if include_clv:
        s = study.clv_info.get("settings", {})
        lines.append(
            f"- **CLV**: the CLV page's method on these transactions ({s.get('model', '')}, weekly, "
            f"{s.get('horizon_months', '')} months, gross margin {pct(s.get('gross_margin', float('nan')))}, "
            f"discount {pct(s.get('annual_discount_rate', float('nan')))} a year), validated on the last "
            f"{CLV_HOLDOUT_DAYS} days held out."
        )
    lines.append(
        "- **Association, not effect**: every comparison between groups here describes customers as they are; "
        "none shows what a change of channel would cause."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------ tables


def mix_view(study: OmnichannelStudy, currency: str) -> Styler:
    view = study.mix.assign(channel=study.mix["channel"].map(label)).rename(
        columns={
            "channel": "Channel", "orders": "Orders", "order_share": "Share of orders",
            "revenue": f"Revenue ({currency})", "revenue_share": "Share of revenue", "customers": "Customers",
            "customer_share": "Share of customers", "average_order_value": f"Average order ({currency})",
        }
    )[["Channel", "Orders", "Share of orders", f"Revenue ({currency})", "Share of revenue", "Customers",
       "Share of customers", f"Average order ({currency})"]]
    return styled(view, {"Orders": "{:,.0f}", "Share of orders": "{:.0%}", f"Revenue ({currency})": "{:,.0f}",
                         "Share of revenue": "{:.0%}", "Customers": "{:,.0f}", "Share of customers": "{:.0%}",
                         f"Average order ({currency})": "{:,.0f}"})


def groups_view(study: OmnichannelStudy, currency: str) -> Styler:
    g = study.groups.copy()
    g["population"] = g["population"].map({"all": "All customers", "repeat": "Repeat buyers"})
    g["group"] = g["group"].map(label)
    columns = {
        "population": "Customers", "group": "Group", "customers": "Number", "share": "Share",
        "purchase_days_per_year": "Purchase days a year", "spend_per_year": f"Spend a year ({currency})",
        "spend_per_purchase_day": f"Spend per purchase day ({currency})", "mean_channels": "Channels used",
        "clv_mean": f"Mean CLV ({currency})", "clv_median": f"Median CLV ({currency})",
    }
    view = g[[c for c in columns if c in g]].rename(columns=columns)
    formats = {"Number": "{:,.0f}", "Share": "{:.0%}", "Purchase days a year": "{:.2f}",
               f"Spend a year ({currency})": "{:,.0f}", f"Spend per purchase day ({currency})": "{:,.0f}",
               "Channels used": "{:.2f}", f"Mean CLV ({currency})": "{:,.0f}", f"Median CLV ({currency})": "{:,.0f}"}
    return styled(view, formats)


def bands_view(study: OmnichannelStudy, currency: str) -> Styler:
    view = study.bands.rename(
        columns={
            "purchase_days": "Purchase days", "customers": "Customers", "multi_share": "Multi-channel share",
            "spend_per_purchase_day_single": f"Spend per purchase day, single ({currency})",
            "spend_per_purchase_day_multi": f"Spend per purchase day, multi ({currency})",
        }
    )
    return styled(view, {"Customers": "{:,.0f}", "Multi-channel share": "{:.0%}",
                         f"Spend per purchase day, single ({currency})": "{:,.0f}",
                         f"Spend per purchase day, multi ({currency})": "{:,.0f}"})


def paths_view(study: OmnichannelStudy, n: int = 10) -> Styler:
    p = study.migration.paths.head(n)
    view = pd.DataFrame(
        {
            "First channel": p["first_channel"].map(label),
            "Later channel": p["later_channel"].map(label),
            "Customers": p["customers"],
            "Share of the first channel's repeat buyers": p["share_of_first_channel_repeaters"],
        }
    )
    return styled(view, {"Customers": "{:,.0f}", "Share of the first channel's repeat buyers": "{:.0%}"})


def crossing_view(study: OmnichannelStudy) -> Styler:
    c = study.crossing
    view = pd.DataFrame(
        {
            "First purchase": c["first_mode"].map(label),
            "Customers": c["customers"],
            "Repeat buyers": c["repeat_buyers"],
            "Later bought in the other mode": c["crossed"],
            "Share of repeat buyers": c["crossed_share"],
            "Median days to cross": c["median_days_to_cross"],
        }
    )
    return styled(view, {"Customers": "{:,.0f}", "Repeat buyers": "{:,.0f}", "Later bought in the other mode": "{:,.0f}",
                         "Share of repeat buyers": "{:.0%}", "Median days to cross": "{:.0f}"})


def data_summary(study: OmnichannelStudy) -> str:
    m = study.metrics
    return (
        f"{count(m['customers'])} customers, {count(m['orders'])} orders in {len(m['channels'])} channels, up to "
        f"{m['observation_end']}."
    )


def headline_numbers(study: OmnichannelStudy, currency: str) -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    g = _repeat_groups(study)
    top = study.mix.iloc[0]
    numbers: dict[str, object] = {
        f"Revenue share of {label(top['channel'])}": pct(top["revenue_share"]),
        "Multi-channel repeat buyers": pct(study.metrics["multi_share_repeat"]),
    }
    if _both_groups(g):
        numbers["Purchase days a year, multi vs single"] = (
            f"{g.loc['multi', 'purchase_days_per_year']:.1f} vs {g.loc['single', 'purchase_days_per_year']:.1f}"
        )
    return numbers
