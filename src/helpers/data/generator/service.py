"""Service tickets raised on orders.

- An order leads to a ticket with probability ``ticket_rate[channel]`` (online orders far
  more often than store orders: delivery problems only exist online).
- Issue type by channel (online / store), severity by issue type, and the delay from the
  order to the ticket by issue type (lognormal) come from the tables in :mod:`.context`.
- Hours to first response ~ lognormal(median by severity, sigma by severity); hours from
  first response to resolution likewise. A ticket breaches the response SLA when the
  first response takes longer than ``response_sla_hours`` (24 h) and the resolution SLA
  when resolution takes longer than ``resolution_sla_hours`` (48 h) after opening.
- Satisfaction (1-5) = round(4.4 - 1.2 [response breach] - 1.0 [resolution breach]
  - 0.3 [complex] - 0.6 [major] + Normal(0, 0.7)), clipped; 70% of resolved tickets have one.
- Churn link: a ticket raised on the final purchase day of a customer who has dropped out
  is handled ``churn_ticket_slowdown`` (3x) slower. The purchase process itself stays
  exactly BG/NBD; the data therefore show the association "breached tickets are followed
  by churn more often" without a causal feedback that would bias the model's truth.
- Tickets opened after the window are dropped; a first response or resolution after the
  window is missing (still open at the data extract), and so is its satisfaction score.
"""

from __future__ import annotations

import numpy as np

from helpers.data.generator import _vec as V
from helpers.data.generator.config import SEVERITIES
from helpers.data.generator.context import (
    CONTACT_CHANNELS,
    ISSUE_MIX_ONLINE,
    ISSUE_MIX_STORE,
    OPEN_DELAY_MEDIAN_DAYS,
    OPEN_DELAY_SIGMA,
    RESOLUTION_SIGMA,
    RESPONSE_SIGMA,
    SEVERITY_BY_ISSUE,
    SURVEY_RESPONSE,
)

DAY = V.DAY
HOTLINE = CONTACT_CHANNELS.index("hotline")


def simulate_tickets(ctx, rng, *, o_code, o_ts, o_channel, churn_order) -> dict:
    cfg = ctx.cfg
    n_orders = len(o_code)
    raised = np.flatnonzero(rng.random(n_orders) < ctx.ticket_rate[o_channel])
    m = len(raised)
    ch = o_channel[raised]
    at_store = ch == ctx.store_channel
    issue_cdf = np.where(at_store[:, None], np.cumsum(ISSUE_MIX_STORE), np.cumsum(ISSUE_MIX_ONLINE))
    issue = V.pick(issue_cdf, rng.random(m))
    severity = V.pick(np.cumsum(np.array(SEVERITY_BY_ISSUE), axis=1)[issue], rng.random(m))
    delay_days = np.exp(
        np.log(np.array(OPEN_DELAY_MEDIAN_DAYS)[issue]) + np.array(OPEN_DELAY_SIGMA)[issue] * rng.normal(size=m)
    )
    opened = o_ts[raised] + np.rint(delay_days * DAY).astype(np.int64)
    slow = np.where(churn_order[raised], cfg.churn_ticket_slowdown, 1.0)
    resp_med = np.array([cfg.response_median_hours[s] for s in SEVERITIES])
    res_med = np.array([cfg.resolution_median_hours[s] for s in SEVERITIES])
    response_h = slow * np.exp(np.log(resp_med[severity]) + np.array(RESPONSE_SIGMA)[severity] * rng.normal(size=m))
    resolve_h = response_h + slow * np.exp(
        np.log(res_med[severity]) + np.array(RESOLUTION_SIGMA)[severity] * rng.normal(size=m)
    )
    response_breach = response_h > cfg.response_sla_hours
    resolution_breach = resolve_h > cfg.resolution_sla_hours
    latent = (
        4.4 - 1.2 * response_breach - 1.0 * resolution_breach - 0.3 * (severity == 1) - 0.6 * (severity == 2)
        + rng.normal(0.0, 0.7, m)
    )
    satisfaction = np.clip(np.rint(latent), 1, 5).astype(np.int64)
    answered = rng.random(m) < SURVEY_RESPONSE
    contact = np.where(rng.random(m) < ctx.contact_share[ch], ctx.contact_main[ch], HOTLINE)

    first_response = opened + np.rint(response_h * 3600).astype(np.int64)
    resolved = opened + np.rint(resolve_h * 3600).astype(np.int64)
    keep = opened <= ctx.end_ts
    code = o_code[raised]
    first_response = np.where(first_response <= ctx.end_ts, first_response, -1)
    resolved = np.where(resolved <= ctx.end_ts, resolved, -1)
    satisfaction = np.where((resolved >= 0) & answered, satisfaction, -1)

    out = {
        "code": code,
        "order": raised,
        "opened_ts": opened,
        "first_response_ts": first_response,
        "resolved_ts": resolved,
        "contact": contact,
        "issue": issue,
        "severity": severity,
        "satisfaction": satisfaction,
    }
    s = np.lexsort((raised, opened, code))
    s = s[keep[s]]
    out = {k: v[s] for k, v in out.items()}
    linked = churn_order[raised][s]
    breach = (response_breach | resolution_breach)[s]
    out["stats"] = {
        "service_tickets": int(len(s)),
        "tickets_response_breach": int(response_breach[s].sum()),
        "tickets_resolution_breach": int(resolution_breach[s].sum()),
        "tickets_churn_linked": int(linked.sum()),
        "tickets_churn_linked_breached": int((linked & breach).sum()),
        "tickets_other_breached": int((~linked & breach).sum()),
        "tickets_open_at_end": int((out["resolved_ts"] < 0).sum()),
    }
    return out
