"""Plain-language text for the segments overview and the per-segment playbook pages.

Functions named ``*_md`` return Markdown for the notebook (amounts through
:func:`money_md`, which escapes ``$`` as :func:`helpers.narrative.money` does); the
others return plain text for the per-segment HTML template, which escapes it itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import narrative
from .actions import ActionLibrary, Guardrail
from .narrative import count, pct
from .segments import (
    CLV_TIERS,
    LIFECYCLE_STAGES,
    N_SCORES,
    NEW_CUSTOMERS,
    VALUE_TIERS,
    SegmentMap,
    SegmentSettings,
)

AXIS_NAMES = {"R": "recency", "F": "frequency", "M": "monetary value"}


def money_text(value: float, currency: str = "$") -> str:
    """An amount for HTML or plain text: $1.2M, ¥45.3k, $812, $7.45 (cents below 100;
    no Markdown escaping)."""
    if abs(value) < 100:
        sign = "-" if value < 0 else ""
        return f"{sign}{currency}{abs(value):,.2f}"
    marker = "\x00"
    return narrative.money(value, marker).replace(marker, currency)


def money_md(value: float, currency: str = "$") -> str:
    """:func:`money_text` for Markdown: "$" escaped as :func:`helpers.narrative.money` does."""
    return money_text(value, currency).replace("$", "\\$")


def _money(value: float, currency: str, markdown: bool) -> str:
    return money_md(value, currency) if markdown else money_text(value, currency)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def page_href(pages_link: str, key: str) -> str:
    """Link from the overview page to a segment page."""
    return f"{pages_link}/{key}.html"


# ------------------------------------------------------------------- overview page


def headline_md(summary: pd.DataFrame, migration: pd.DataFrame, segment_map: SegmentMap, *, as_of: str,
                migration_from: str, currency: str = "$") -> str:
    """The opening paragraph: how many customers, where the value is, where it slips."""
    labels = segment_map.labels
    total = int(summary["customers"].sum())
    used = summary[summary["customers"] > 0]
    ranked = used.sort_values("clv_share", ascending=False, kind="stable")
    top, covered = [], 0.0
    for key, row in ranked.iterrows():  # a handful of segments
        top.append(key)
        covered += row["clv_share"]
        if covered >= 0.5:
            break
    sel = summary.loc[top]
    lines = [
        f"**{count(total)} customers fall into {len(used)} of the {len(summary)} segments on {as_of}.**",
        "",
        f"- **Where the value is:** {_join([labels[k] for k in top])} ({pct(sel['customer_share'].sum())} of "
        f"customers) hold {pct(sel['clv_share'].sum())} of predicted CLV "
        f"({money_md(sel['clv'].sum(), currency)} of {money_md(summary['clv'].sum(), currency)}) "
        f"and brought {pct(sel['revenue_share'].sum())} of past revenue.",
    ]
    at_risk = summary["clv_at_risk"]
    if at_risk.sum() > 0:
        worst = at_risk.idxmax()
        lines.append(
            f"- **Where it slips:** {labels[worst]} carry the largest CLV at risk "
            f"({money_md(at_risk[worst], currency)} of {money_md(at_risk.sum(), currency)} across all "
            "segments): margin the model no longer counts on because these customers have probably stopped buying."
        )
    lines.append(f"- **Since {migration_from}:** " + migration_summary(migration, segment_map))
    empty = [labels[k] for k in summary.index if summary.loc[k, "customers"] == 0]
    if empty:
        lines.append(
            f"- **Empty segments:** {_join(empty)} have no customers on this date; their playbooks apply when "
            "customers enter them."
        )
    return "\n".join(lines)


def migration_summary(migration: pd.DataFrame, segment_map: SegmentMap) -> str:
    """One sentence on how customers moved between the two dates."""
    keys = segment_map.keys
    labels = segment_map.labels
    core = migration.loc[keys, keys].to_numpy()
    earlier = int(migration.loc[keys].to_numpy().sum())
    stayed = int(np.trace(core))
    new = int(migration.loc[NEW_CUSTOMERS].sum())
    text = (
        f"{pct(stayed / earlier) if earlier else '–'} of the {count(earlier)} customers who had bought by then are "
        f"in the same segment; {count(new)} customers bought for the first time since."
    )
    moves = core.copy()
    np.fill_diagonal(moves, 0)
    if moves.max() > 0:
        i, j = np.unravel_index(moves.argmax(), moves.shape)
        text += (
            f" The largest move: {count(moves[i, j])} customers went from {labels[keys[i]]} to {labels[keys[j]]}."
        )
    return text


def priorities_md(summary: pd.DataFrame, library: ActionLibrary, guardrails: dict[str, Guardrail], *,
                  segment_map: SegmentMap, pages_link: str, currency: str = "$", n: int = 3) -> str:
    """The segments with the most value at stake (predicted CLV + CLV at risk), with their objective."""
    stake = (summary["clv"] + summary["clv_at_risk"]).where(summary["customers"] > 0)
    order = stake.dropna().sort_values(ascending=False, kind="stable").index[:n]
    lines = []
    for i, key in enumerate(order, start=1):
        row = summary.loc[key]
        at_risk = (
            f", {money_md(row['clv_at_risk'], currency)} at risk" if row["clv_at_risk"] > 0.005 else ""
        )
        lines.append(
            f"{i}. **[{segment_map.labels[key]}]({page_href(pages_link, key)})** ({count(row['customers'])} customers, "
            f"{money_md(row['clv'], currency)} predicted CLV{at_risk}): {library[key].objective} "
            f"{guardrail_short(guardrails[key], currency, markdown=True)}"
        )
    lines.append("")
    lines.append(
        "Segments are ranked by the value at stake: predicted CLV plus CLV at risk. "
        "Each link opens the segment's playbook page."
    )
    return "\n".join(lines)


def playbook_links_md(summary: pd.DataFrame, library: ActionLibrary, guardrails: dict[str, Guardrail], *,
                      segment_map: SegmentMap, pages_link: str, currency: str = "$") -> str:
    """A list of every segment's page with its objective."""
    lines = []
    for key in segment_map.keys:
        row = summary.loc[key]
        lines.append(
            f"- **[{segment_map.labels[key]}]({page_href(pages_link, key)})**: {count(row['customers'])} customers "
            f"({pct(row['customer_share'])}). {library[key].objective} "
            f"{guardrail_short(guardrails[key], currency, markdown=True)}"
        )
    return "\n".join(lines)


def grid_md(segment_map: SegmentMap, customers: pd.DataFrame, settings: SegmentSettings) -> str:
    """Interpretation of the segment grid figure, including unused scores."""
    rows, cols = segment_map.axes[0], segment_map.axes[1]
    text = (
        f"Each square is one combination of {AXIS_NAMES[rows]} score ({rows}, rows; 5 = best) and "
        f"{AXIS_NAMES[cols]} score ({cols}, columns), coloured by segment, with the number of customers in it."
    )
    unused = []
    for axis in segment_map.axes:
        present = set(np.unique(customers[f"{axis.lower()}_score"]))
        missing = [s for s in range(1, N_SCORES + 1) if s not in present]
        if missing:
            unused.append(f"{axis} {', '.join(map(str, missing))}")
    if unused and settings.ties == "shared":
        text += (
            f" Some scores are unused ({'; '.join(unused)}): customers with equal values share a score, so when "
            "many customers tie (for example everyone who bought on one day only) they all take the lowest score "
            "of their group and the next group starts higher up."
        )
    return text


def shares_md(summary: pd.DataFrame, segment_map: SegmentMap) -> str:
    """Interpretation of the shares figure."""
    used = summary[summary["customers"] > 0]
    ratio = (used["clv_share"] / used["customer_share"]).sort_values(ascending=False)
    best = ratio.index[0]
    text = (
        "For each segment the bars compare its share of customers, of past revenue and of predicted CLV. "
        f"{segment_map.labels[best]} are worth most for their size: {pct(used.loc[best, 'customer_share'])} of "
        f"customers hold {pct(used.loc[best, 'clv_share'])} of predicted CLV."
    )
    fading = (used["revenue_share"] - used["clv_share"]).sort_values(ascending=False)
    if len(fading) and fading.iloc[0] > 0.02:
        key = fading.index[0]
        text += (
            f" {segment_map.labels[key]} brought {pct(used.loc[key, 'revenue_share'])} of past revenue but hold "
            f"only {pct(used.loc[key, 'clv_share'])} of predicted CLV: value that is leaving."
        )
    return text


def migration_md(migration: pd.DataFrame, segment_map: SegmentMap, *, migration_from: str, as_of: str) -> str:
    """Interpretation of the migration heatmap."""
    return (
        f"Rows are the segments on {migration_from}, columns the segments on {as_of}; each row shows where that "
        "segment's customers are now (shares of the row, with counts). The last row holds customers who had not "
        "bought yet on the earlier date. Scores are relative to the customers of each date, so a customer can "
        "move without changing behaviour when the rest of the base changes. "
        + migration_summary(migration, segment_map)
    )


def tier_definitions(view: str, settings: SegmentSettings) -> dict[str, str]:
    """Each tier of a view in plain words, with the thresholds in force."""
    lapsed = (
        f"P(alive) below {pct(settings.alive_threshold)} or no purchase for more than {settings.lapsed_days} days"
    )
    if view == "value_growth":
        return {
            "core": f"active, past revenue in the top {pct(settings.high_value_share)} and predicted CLV in the top "
                    f"{pct(settings.high_clv_share)} of active customers",
            "potential": f"active, predicted CLV in the top {pct(settings.high_clv_share)} without (yet) the past "
                         "revenue of core customers",
            "ordinary": "active, the rest",
            "sleeping": lapsed,
        }
    if view == "clv":
        return {
            "high_value_loyal": f"active, predicted CLV in the top {pct(settings.high_clv_share)} of active customers",
            "growing": f"active, predicted CLV in the top {pct(settings.growing_clv_share)} but not the top "
                       f"{pct(settings.high_clv_share)}",
            "potential": f"active, predicted CLV in the bottom {pct(1 - settings.growing_clv_share)}",
            "churn_risk": lapsed,
        }
    if view == "lifecycle":
        return {
            "new": f"first purchase at most {settings.new_days} days ago",
            "active": "not new, not churned, fewer than "
                      f"{settings.loyal_min_purchases} purchase days",
            "loyal": f"at least {settings.loyal_min_purchases} purchase days, not churned",
            "churned": lapsed + " (and not new)",
        }
    raise ValueError(view)


TIER_TITLES = {
    "value_growth": ("Value x growth tiers", VALUE_TIERS),
    "clv": ("CLV tiers", CLV_TIERS),
    "lifecycle": ("Lifecycle stages", LIFECYCLE_STAGES),
}


def tier_md(view: str, summary: pd.DataFrame, settings: SegmentSettings) -> str:
    """Definitions of a view's tiers and what the numbers say."""
    _, labels = TIER_TITLES[view]
    defs = tier_definitions(view, settings)
    lines = [f"- **{labels[k]}:** {defs[k]}." for k in labels]
    used = summary[summary["customers"] > 0]
    if len(used):
        top = used["clv_share"].idxmax()
        lines += [
            "",
            f"{labels[top]} ({pct(used.loc[top, 'customer_share'])} of customers) hold "
            f"{pct(used.loc[top, 'clv_share'])} of predicted CLV.",
        ]
    return "\n".join(lines)


def categories_md(pairs: pd.DataFrame, suggestions: pd.DataFrame, min_pair_customers: int) -> str:
    """Interpretation of the co-purchase table and the suggestions."""
    usable = pairs[pairs["usable"]]
    n = len(suggestions)
    reasons = suggestions["reason"].value_counts()
    co, popular = int(reasons.get("co-purchase", 0)), int(reasons.get("popular", 0))
    k = len(set(pairs["antecedent"]))
    text = (
        f"Across {count(n)} customers and {k} categories, {len(usable) // 2} of {len(pairs) // 2} category pairs are "
        f"bought by the same customers more often than chance (lift above 1, at least {min_pair_customers} "
        "customers buying both)."
    )
    if len(usable):
        best = usable.iloc[0]
        text += (
            f" The strongest: buyers of {best['antecedent']} are {pct(best['lift'] - 1)} more likely than the average "
            f"customer to buy {best['consequent']} ({pct(best['confidence'])} of them do)."
        )
    text += (
        f" {count(co)} customers ({pct(co / n) if n else '–'}) get a suggestion from these pairs: the category they "
        f"have not bought with the highest lift to one they have; {count(popular)} others get the most popular "
        "category they lack. The suggestion is in each activation list (`next_best_category`)."
    )
    if len(usable) and usable["lift"].max() < 1.5:
        text += (
            " Lifts this close to 1 are mild nudges, not strong rules: test the suggestion against a control group "
            "before rolling it out."
        )
    return text


def no_categories_md() -> str:
    return (
        "The data has no product category, so there are no next-best-category suggestions. Map a category "
        "column to get them, e.g. `column_map: {customer_id: 会员编号, timestamp: 下单时间, amount: 实付金额, "
        "category: 品类}`."
    )


def method_md(settings: SegmentSettings, segment_map: SegmentMap, library: ActionLibrary, *, as_of: str,
              migration_from: str, horizon_months: int, model_label: str) -> str:
    """How the segments, tiers, CLV at risk and guardrails are computed."""
    monetary = "total net spend" if settings.monetary == "total" else "mean net spend per purchase day"
    ties = (
        "customers with equal values share a score: the lowest quintile their group reaches (a tie never promotes "
        "anyone), so quintiles are not of equal size"
        if settings.ties == "shared"
        else "quintiles are of equal size; equal values are ordered by customer id, so identical customers can get "
             "different scores"
    )
    return "\n".join(
        [
            f"- **RFM on {as_of}.** Purchases are counted per customer per day, net of returns. *Recency* is days "
            f"since the last purchase (not the model's age at last purchase), *frequency* the number of purchase days, "
            f"*monetary* the {monetary}. Each becomes a score 1..5 (5 = most recent, most frequent, highest spend) "
            f"by quintile of rank: score = 1 + floor(5 x (rank - 1) / customers). Ties: {ties}.",
            f"- **Segments** come from the segment map `{segment_map.path}` ({segment_map.name}), which names each "
            f"cell of the {' x '.join(segment_map.axes)} score grid exactly once (table below). Swap the file with "
            "the `segment_map` parameter; its loader names any cell missing or used twice.",
            f"- **Predicted CLV** is the CLV study's discounted gross margin over {horizon_months} months from the "
            f"{model_label} and Gamma-Gamma models fitted on all data to {as_of}. **CLV at risk** is the margin the "
            "model no longer counts on because customers have probably stopped: CLV x (1 - P(alive)) / P(alive), "
            "what the customers would bring if all were still active minus what is predicted. BG/NBD treats customers "
            "without a repeat purchase as active (P(alive) = 1), so their CLV at risk is 0.",
            f"- **Lapsed** customers (sleeping, churn risk, churned) have P(alive) below {pct(settings.alive_threshold)} "
            f"or no purchase for more than {settings.lapsed_days} days. Shares that define tiers are of the active "
            "customers.",
            f"- **Offer guardrail:** the deepest discount is the smallest of the segment's policy cap, "
            f"{pct(library.max_share_of_margin)} of the gross margin, and the share of predicted CLV the library "
            f"allows for incentives divided by the number of offers and the expected order (`{library.path}`).",
            f"- **Migration** compares segments on {migration_from} (scored among the customers of that date, on the "
            f"data up to it) with segments on {as_of}.",
        ]
    )


# ----------------------------------------------------------------- segment pages


def guardrail_short(g: Guardrail, currency: str, markdown: bool = False) -> str:
    """One sentence: the deepest discount and the amount on a typical order."""
    if g.binding == "none" and g.offers == 0:
        return "No discounts: use the non-price actions."
    if not np.isfinite(g.max_depth):
        return f"Discount cap: {pct(g.policy_depth)} by policy (no customers to size it on)."
    if g.amount_per_order < 0.5:
        return "No meaningful discount fits the predicted value: use the non-price actions."
    return (
        f"Discounts up to {pct(g.max_depth, 1 if g.max_depth < 0.1 else 0)} "
        f"(about {_money(g.amount_per_order, currency, markdown)} on an expected order)."
    )


def guardrail_text(g: Guardrail, *, currency: str, gross_margin: float, max_share_of_margin: float,
                   clv_share: float, horizon_months: int) -> str:
    """The guardrail and why, for a segment page."""
    if g.binding == "none" and g.offers == 0:
        return "The library plans no discounts for this segment; use the non-price actions."
    if not np.isfinite(g.max_depth):
        return (
            f"No customers are in this segment, so the limit cannot be sized on their value; the policy cap is "
            f"{pct(g.policy_depth)} off an order."
        )
    head = (
        f"Offer at most {pct(g.max_depth, 1)} off an order: about {money_text(g.amount_per_order, currency)} on an "
        f"expected order of {money_text(g.order_value, currency)} (the spend model's estimate for the segment). "
    )
    why = {
        "policy": f"The limit is the library's cap for this segment ({pct(g.policy_depth)}); the segment's value "
                  f"would allow up to {pct(min(g.margin_depth, g.clv_depth), 1)}.",
        "margin": f"The limit is the gross-margin cap: no offer gives away more than {pct(max_share_of_margin)} of the "
                  f"{pct(gross_margin)} gross margin of an order.",
        "clv": f"The limit comes from the segment's predicted value: incentives may cost {pct(clv_share)} of the "
               f"predicted CLV ({money_text(g.clv_per_customer, currency)} per customer over {horizon_months} months), "
               f"that is {money_text(g.budget_per_customer, currency)} per customer, spread over {g.offers} "
               f"offer{'s' if g.offers != 1 else ''}.",
    }[g.binding]
    tail = (
        " The activation list holds each customer's own limit, from their own predicted CLV and expected order."
    )
    if g.amount_per_order < 0.5:
        tail = (
            " For the average customer of the segment that is too little to matter: prefer the non-price actions. "
            "The activation list holds each customer's own limit, higher for the most valuable."
        )
    return head + why + tail


def segment_lead(row: pd.Series, currency: str) -> str:
    """One sentence: size and value of a segment."""
    if row["customers"] == 0:
        return "No customers are in this segment on this date. The playbook applies when customers enter it."
    return (
        f"{count(row['customers'])} customers ({pct(row['customer_share'])} of all) brought "
        f"{pct(row['revenue_share'])} of past revenue and hold {pct(row['clv_share'])} of predicted CLV "
        f"({money_text(row['clv'], currency)})."
    )


def segment_scores_text(segment_map: SegmentMap, key: str) -> str:
    """Where the segment sits on the score grid, in words."""
    axes = ", ".join(f"{AXIS_NAMES[a]} ({a})" for a in segment_map.axes)
    return f"Scores {segment_map.describe_scores(key)} on the {axes} grid, where 5 is best."


def segment_numbers(row: pd.Series, currency: str, monetary: str) -> list[tuple[str, str]]:
    """The key numbers of a segment as (label, value) rows."""
    if row["customers"] == 0:
        return [("Customers", "0")]

    def money_(v: float) -> str:
        return money_text(v, currency) if np.isfinite(v) else "–"

    m_label = "Average total spend" if monetary == "total" else "Average spend per purchase day"
    return [
        ("Customers", f"{count(row['customers'])} ({pct(row['customer_share'], 1)} of all)"),
        ("Past revenue", f"{money_(row['revenue'])} ({pct(row['revenue_share'], 1)} of all)"),
        ("Average days since last purchase", f"{row['recency_days']:,.0f}"),
        ("Average purchase days", f"{row['purchase_days']:,.1f}"),
        (m_label, money_(row["monetary"])),
        ("Average order value (spend per purchase day)", money_(row["order_value"])),
        ("Average scores R / F / M", f"{row['r_score']:.1f} / {row['f_score']:.1f} / {row['m_score']:.1f}"),
        ("Mean P(alive)", pct(row["p_alive"])),
        ("Predicted CLV (gross margin)", f"{money_(row['clv'])} ({pct(row['clv_share'], 1)} of all; "
                                         f"{money_(row['clv_per_customer'])} per customer)"),
        ("CLV at risk", money_(row["clv_at_risk"])),
        ("Expected purchases in the horizon", f"{row['expected_purchases']:,.0f}"),
    ]


def segment_moves(migration: pd.DataFrame, segment_map: SegmentMap, key: str, *, migration_from: str,
                  top: int = 3) -> tuple[str, str]:
    """Where the segment's customers came from and where its earlier customers went."""
    labels = {**segment_map.labels, NEW_CUSTOMERS: "first-time buyers"}
    col = migration[key]
    now = int(col.sum())
    stayed = int(migration.loc[key, key])
    sources = col.drop(index=key)
    sources = sources[sources > 0].sort_values(ascending=False, kind="stable").head(top)
    if now == 0:
        came = "Nobody is in the segment now."
    else:
        came = f"Of the {count(now)} customers in the segment now, {count(stayed)} were already in it on {migration_from}"
        came += ("; others came from " + _join([f"{labels[k]} ({count(v)})" for k, v in sources.items()]) + ".") if len(
            sources) else "."
    row = migration.loc[key]
    before = int(row.sum())
    dests = row.drop(labels=[key])
    dests = dests[dests > 0].sort_values(ascending=False, kind="stable").head(top)
    if before == 0:
        went = f"Nobody was in the segment on {migration_from}."
    else:
        went = f"Of the {count(before)} customers in the segment on {migration_from}, {pct(stayed / before)} are still in it"
        went += ("; the others moved to " + _join(
            [f"{segment_map.labels.get(k, 'not in the later data')} ({count(v)})" for k, v in dests.items()]
        ) + ".") if len(dests) else "."
    return came, went


def segment_categories(rows: pd.DataFrame) -> str:
    """The most suggested next categories in a segment."""
    if rows.empty:
        return "No suggestions for this segment."
    items = [f"{r['next_category']} ({pct(r['share'])})" for _, r in rows.iterrows()]
    return "Most suggested next categories: " + _join(items) + "."


# ------------------------------------------------------------------ overview tail


def activation_md(study, *, folder: str, allow_raw_ids: bool) -> str:
    """What the activation lists hold and how to use them."""
    ids = (
        "**real customer ids** (`allow_raw_ids` is on: keep these files on secured machines)"
        if allow_raw_ids
        else "pseudonymised customer ids (a keyed hash: stable for one key, `HELPERS_ID_KEY`)"
    )
    extra = ", next best category" if study.suggestions is not None else ""
    return (
        f"One CSV per segment in `{folder}/`, highest predicted CLV first, with {ids}, segment, R/F/M scores, days "
        "since the last purchase, purchase days, past revenue, P(alive), predicted CLV, CLV at risk, the three tier "
        f"views, the largest discount one offer may give the customer (`max_discount`){extra}. "
        "`customer_segments.csv` next to the folder holds every customer in one file. "
        + (
            ""
            if allow_raw_ids
            else "A CRM that only knows real ids needs the key holder to map pseudonyms back, or a run with "
                 "`allow_raw_ids: true` on a secured machine."
        )
    )


def data_md(data_source: str, report, clv_study) -> str:
    """The data line and the CLV model's holdout check."""
    m = clv_study.metrics
    h = clv_study.holdout
    return (
        f"**Data:** {data_source}. {report.rows_kept:,} of {report.rows_read:,} rows used, "
        f"{m['customers']:,} customers. **CLV model check:** on the holdout period the {m['model_label']} model "
        f"predicted {count(h['predicted_total'])} repeat purchases against {count(h['actual_total'])} that happened "
        f"({h['total_error_pct']:+.1f}%), a **{narrative.fit_quality(h['total_error_pct'])}** fit in total; the CLV "
        "page shows the full validation."
    )


def outputs_md(paths: dict, pages: dict, output_dir: str) -> str:
    """Where the files went."""
    folder = output_dir.rstrip("/")
    return (
        f"Outputs written: {len(pages)} segment pages `{folder}/pages/`, activation lists `{folder}/activation/`, "
        f"all customers `{paths['customers']}`, segment summary `{paths['summary']}`, migration "
        f"`{paths['migration']}`, metrics `{paths['metrics']}`, figures `{folder}/figures/`."
    )


def headline_numbers(summary: pd.DataFrame, segment_map: SegmentMap, currency: str = "$") -> dict:
    """The few numbers the site index shows for the segments page."""
    used = summary[summary["customers"] > 0]
    top = used["clv_share"].idxmax() if len(used) else None
    numbers = {
        "Customers": int(summary["customers"].sum()),
        "Segments in use": f"{len(used)} of {len(summary)}",
        "Predicted CLV": money_text(float(summary["clv"].sum()), currency),
        "CLV at risk": money_text(float(summary["clv_at_risk"].sum()), currency),
    }
    if top is not None:
        numbers["Most valuable segment"] = f"{segment_map.labels[top]} ({pct(used.loc[top, 'clv_share'])} of CLV)"
    return numbers
