"""Service: promises at their boundaries, breach tables, trends, repeat after a ticket, and the generator's truth."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.tables_io import load_transactions, read_tickets, tickets_from_frame
from helpers.errors import ConfigError, DataError
from helpers.studies.service import analysis as sv

DATA = Path(__file__).resolve().parents[1] / "data" / "newretail"
H = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2024-06-01 09:00")


def tickets(rows, end="2024-12-31"):
    """rows: (customer, opened, response delay, resolution delay, channel, severity, issue); None = open."""
    frame = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "opened_at": [r[1] for r in rows],
            "first_response_at": [r[1] + r[2] if r[2] is not None else pd.NaT for r in rows],
            "resolved_at": [r[1] + r[3] if r[3] is not None else pd.NaT for r in rows],
            "channel": [r[4] for r in rows],
            "severity_tier": [r[5] for r in rows],
            "issue_type": [r[6] for r in rows],
        }
    )
    return tickets_from_frame(frame, observation_end=end).table


def test_a_promise_is_met_at_exactly_its_hours_and_broken_one_second_later():
    t = tickets(
        [
            ("a", T0, 24 * H, 48 * H, "hotline", "ordinary", "refund"),
            ("b", T0, 24 * H + pd.Timedelta(seconds=1), 48 * H + pd.Timedelta(seconds=1), "hotline", "ordinary", "refund"),
        ]
    )
    flagged = sv.apply_promise(t, sv.Promise(24, 48), "2024-12-31")
    assert flagged["response_status"].tolist() == ["met", "breached"]
    assert flagged["resolution_status"].tolist() == ["met", "breached"]
    assert flagged["breached"].tolist() == [False, True]


def test_open_tickets_are_breached_once_past_the_promise_and_pending_before():
    end = pd.Timestamp("2024-12-31")  # the whole day: the period ends at 2025-01-01 00:00
    t = tickets(
        [
            ("late", pd.Timestamp("2024-12-30 23:00"), None, None, "wechat", "major", "refund"),  # 25 h without reply
            ("fresh", pd.Timestamp("2024-12-31 12:00"), 1 * H, None, "wechat", "major", "refund"),  # 12 h old
            ("done", pd.Timestamp("2024-12-01 12:00"), 2 * H, 30 * H, "wechat", "major", "refund"),
        ]
    )
    flagged = sv.apply_promise(t, sv.Promise(24, 48), end)
    by = flagged.set_index("customer_id")
    assert by.loc["late", "response_status"] == "breached" and by.loc["late", "resolution_status"] == "pending"
    assert by.loc["fresh", "response_status"] == "met" and by.loc["fresh", "resolution_status"] == "pending"
    summary = sv.breach_summary(flagged).iloc[0]
    assert summary["response_breach_rate"] == pytest.approx(1 / 3)
    assert summary["resolution_decided"] == 1 and summary["resolution_breach_rate"] == 0.0  # pending left out
    assert summary["either_breaches"] == 1 and summary["either_decided"] == 2  # "late" counts, "fresh" is undecided


def test_breach_rates_by_channel_and_severity_by_hand():
    rows = [
        ("a", T0, 2 * H, 10 * H, "hotline", "ordinary", "refund"),
        ("b", T0, 30 * H, 40 * H, "hotline", "ordinary", "refund"),  # response breach only
        ("c", T0, 2 * H, 60 * H, "hotline", "complex", "wrong_item"),  # resolution breach only
        ("d", T0, 1 * H, 5 * H, "wechat", "ordinary", "wrong_item"),
    ]
    table = sv.breach_summary(sv.apply_promise(tickets(rows), sv.Promise(24, 48)), ["channel", "severity_tier"])
    table = table.set_index(["channel", "severity_tier"])
    row = table.loc[("hotline", "ordinary")]
    assert (row["tickets"], row["response_breach_rate"], row["resolution_breach_rate"], row["either_breach_rate"]) == (2, 0.5, 0.0, 0.5)
    assert table.loc[("hotline", "complex"), "resolution_breach_rate"] == 1.0
    assert table.loc[("wechat", "ordinary"), "either_breach_rate"] == 0.0
    assert row["median_response_hours"] == 16.0


def test_the_alternative_promise_is_stricter():
    rows = [("a", T0, 10 * pd.Timedelta(minutes=1), 20 * H, "hotline", "ordinary", "refund"),
            ("b", T0, 16 * pd.Timedelta(minutes=1), 30 * H, "hotline", "ordinary", "refund")]
    comp = sv.promise_comparison(tickets(rows), [sv.Promise(24, 48, "promise"), sv.Promise(0.25, 24, "alternative")])
    comp = comp.set_index("name")
    assert comp.loc["promise", "either"] == 0.0
    assert comp.loc["alternative", "response"] == 0.5 and comp.loc["alternative", "resolution"] == 0.5


def test_promises_must_be_positive():
    with pytest.raises(ConfigError, match="response_hours must be a positive number"):
        sv.Promise(0, 48)


def test_issue_frequency_and_trend_by_hand():
    opened = [pd.Timestamp("2024-01-15")] * 2 + [pd.Timestamp("2024-02-15")] * 20 + [pd.Timestamp("2024-02-16")] * 3
    issues = ["refund"] * 2 + ["damaged_parcel"] * 20 + ["refund"] * 3
    t = tickets([(f"c{i}", o, H, 2 * H, "hotline", "ordinary", k) for i, (o, k) in enumerate(zip(opened, issues))])
    freq = sv.issue_frequency(sv.apply_promise(t, sv.Promise()))
    assert freq["issue_type"].tolist() == ["damaged_parcel", "refund"] and freq["tickets"].tolist() == [20, 5]
    monthly, change = sv.issue_trend(t, recent_months=1)
    assert monthly.loc[pd.Timestamp("2024-01-01"), "damaged_parcel"] == 0
    ch = change.set_index("issue_type")
    assert (ch.loc["refund", "recent"], ch.loc["refund", "earlier"]) == (3, 2)
    assert ch.loc["refund", "direction"] == "flat"  # 3 vs 2 cannot be told apart
    assert np.isnan(ch.loc["damaged_parcel", "rate_ratio"])  # nothing before: no ratio


def test_trend_per_orders_and_a_clear_rise():
    opened = [pd.Timestamp("2024-01-10")] * 10 + [pd.Timestamp("2024-02-10")] * 60
    t = tickets([(f"c{i}", o, H, 2 * H, "hotline", "ordinary", "late_delivery") for i, o in enumerate(opened)])
    orders = pd.DataFrame({"customer_id": [f"x{i}" for i in range(3000)],
                           "order_id": [f"o{i}" for i in range(3000)],
                           "timestamp": [pd.Timestamp("2024-01-05")] * 1000 + [pd.Timestamp("2024-02-05")] * 2000,
                           "amount": 1.0})
    _, change = sv.issue_trend(t, orders, recent_months=1)
    row = change.set_index("issue_type").loc["late_delivery"]
    assert row["recent_per_1000_orders"] == 30 and row["earlier_per_1000_orders"] == 10
    assert row["rate_ratio"] == pytest.approx(3.0)
    se = np.sqrt(1 / 60 + 1 / 10)
    assert row["ratio_low"] == pytest.approx(3 * np.exp(-1.959964 * se), rel=1e-5)
    assert row["direction"] == "up"


def test_wilson_and_newcombe_intervals_match_published_values():
    # Newcombe (1998), Statistics in Medicine 17:873-890, method 10 examples.
    assert sv.difference_interval(56, 70, 48, 80) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert sv.difference_interval(9, 10, 3, 10) == pytest.approx((0.1705, 0.8090), abs=1e-4)
    assert sv.wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_repeat_after_a_ticket_by_hand():
    end = "2024-12-31"
    t = tickets(
        [
            ("a", pd.Timestamp("2024-03-01 10:00"), 30 * H, 40 * H, "hotline", "ordinary", "refund"),  # breached
            ("a", pd.Timestamp("2024-05-01 10:00"), H, H, "hotline", "ordinary", "refund"),  # not the first ticket
            ("b", pd.Timestamp("2024-03-01 10:00"), H, 2 * H, "hotline", "ordinary", "refund"),
            ("c", pd.Timestamp("2024-03-01 10:00"), H, 2 * H, "hotline", "ordinary", "refund"),
            ("d", pd.Timestamp("2024-11-01 10:00"), H, 2 * H, "hotline", "ordinary", "refund"),  # too recent
        ]
    )
    purchases = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "c", "d"],
            "timestamp": pd.to_datetime(
                ["2024-02-01 00:00", "2024-05-30 10:00", "2024-02-01 00:00", "2024-05-30 10:01", "2024-11-02 00:00"]
            ),  # b: exactly 90 days after (counts); c: one minute too late; a: only before
            "amount": 1.0,
        }
    )
    flagged = sv.apply_promise(t, sv.Promise(24, 48), end)
    after = sv.after_ticket(flagged, purchases, end, followup_days=90)
    assert (after["groups"]["breached"]["customers"], after["groups"]["breached"]["bought_again"]) == (1, 0)
    assert (after["groups"]["met"]["customers"], after["groups"]["met"]["bought_again"]) == (2, 1)
    assert after["difference"] == pytest.approx(-0.5)
    assert after["tickets_too_recent"] == 1


def test_tickets_per_order_channel_by_hand():
    t = tickets([("a", T0, H, H, "hotline", "ordinary", "refund"), ("b", T0, H, H, "hotline", "ordinary", "refund")])
    t["order_id"] = ["o1", "o9"]  # o9 is not in the transactions
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "order_id": ["o1", "o1", "o2", "o3"],
                       "channel": ["app", "app", "store", "store"], "timestamp": T0, "amount": 1.0})
    table = sv.tickets_per_order_channel(t, tx).set_index("channel")
    assert table.loc["app", "tickets_per_1000_orders"] == 1000 and table.loc["store", "tickets"] == 0
    assert table.attrs["unmatched_tickets"] == 1


def test_tickets_without_any_times_are_refused():
    t = tickets_from_frame(pd.DataFrame({"customer_id": ["a"], "opened_at": ["2024-01-01"]})).table
    with pytest.raises(DataError, match="neither a first-response time nor a resolution time.*tickets_column_map"):
        sv.run_service_study(t)


@pytest.fixture(scope="module")
def generated():
    t = read_tickets(DATA / "service_tickets.csv", observation_end="2024-12-31").table
    tx = load_transactions(DATA / "transactions.csv", notebook="test", observation_end="2024-12-31").transactions
    return sv.run_service_study(t, tx, "2024-12-31")


def test_breach_shares_equal_the_generators_truth(generated):
    truth = json.loads((DATA / "truth.json").read_text())["service"]
    assert truth["response_sla_hours"] == 24 and truth["resolution_sla_hours"] == 48
    assert generated.metrics["response_breach_rate"] == pytest.approx(truth["share_response_breached"], abs=1e-6)
    assert generated.metrics["resolution_breach_rate"] == pytest.approx(truth["share_resolution_breached"], abs=1e-6)
    assert generated.metrics["pending_response"] == truth["open_at_end"]


def test_online_orders_raise_more_tickets_as_generated(generated):
    # data/README: ticket probability per order is 0.4% in stores and 2-4% online.
    rate = generated.per_order_channel.set_index("channel")["tickets_per_1000_orders"]
    assert rate.idxmin() == "store" and rate["store"] < 10
    assert all(rate[c] > 2 * rate["store"] for c in ("online_mall", "mini_program", "app", "marketplace"))
    assert generated.per_order_channel.attrs["unmatched_tickets"] == 0


def test_breached_tickets_are_followed_by_fewer_repeat_purchases_as_generated(generated):
    # data/README: a churning customer's final-day ticket is handled 3x slower, so breaches go with churn.
    after = generated.after
    assert after["difference"] < 0
    assert after["difference_low"] < after["difference"] < after["difference_high"]
    assert after["groups"]["breached"]["customers"] + after["groups"]["met"]["customers"] == len(after["customers"])


def test_without_transactions_the_transaction_parts_are_left_out():
    rows = [("a", T0, H, 2 * H, "hotline", "ordinary", "refund"), ("b", T0, 30 * H, 2 * H + 30 * H, "wechat", "major", "other")]
    study = sv.run_service_study(tickets(rows), None, "2024-12-31")
    assert study.after is None and study.per_order_channel is None and "orders" not in study.monthly
    assert study.metrics["response_breach_rate"] == 0.5


def test_ticket_customers_missing_from_the_transactions_are_not_counted_as_churned():
    rows = [("a", T0, H, 2 * H, "hotline", "ordinary", "refund"), ("ghost", T0, H, 2 * H, "hotline", "ordinary", "refund")]
    purchases = pd.DataFrame({"customer_id": ["a"], "timestamp": [T0 + pd.Timedelta(days=3)], "amount": [1.0]})
    after = sv.after_ticket(sv.apply_promise(tickets(rows), sv.Promise()), purchases, "2024-12-31")
    assert after["customers"]["customer_id"].tolist() == ["a"]
    assert after["customers_not_in_transactions"] == 1


def test_a_file_without_response_times_is_judged_on_resolution_only():
    frame = pd.DataFrame({"customer_id": ["a", "b"], "opened_at": ["2024-01-01 00:00", "2024-01-01 00:00"],
                          "resolved_at": ["2024-01-02 00:00", "2024-01-04 00:00"]})
    study = sv.run_service_study(tickets_from_frame(frame).table, None, "2024-12-31")
    assert study.flagged["response_status"].tolist() == ["not_recorded", "not_recorded"]
    assert study.metrics["resolution_breach_rate"] == 0.5 and study.metrics["either_breach_rate"] == 0.5
    assert np.isnan(study.metrics["response_breach_rate"])


@pytest.mark.parametrize("columns", [("first_response_at", "resolved_at"), ("resolved_at",)])
def test_every_text_table_and_figure_works_on_small_tables(columns):
    import matplotlib.pyplot as plt

    from helpers.studies.service import figures as service_figures
    from helpers.studies.service import narrative as service_narrative

    rows = [("a", T0, H, 30 * H, "hotline", "ordinary", "refund"), ("b", T0, 30 * H, 60 * H, "wechat", None, None),
            ("c", pd.Timestamp("2024-12-31 20:00"), None, None, "wechat", "major", "refund")]
    t = tickets(rows)[["customer_id", "opened_at", "channel", "severity_tier", "issue_type", *columns]]
    purchases = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": [T0 + pd.Timedelta(days=5)] * 2, "amount": 1.0})
    for tx in (purchases, None):
        study = sv.run_service_study(t, tx, "2024-12-31")
        texts = [service_narrative.headline(study), service_narrative.actions(study), service_narrative.promises(study),
                 service_narrative.breaches(study), service_narrative.issues(study), service_narrative.trend(study, 6),
                 service_narrative.per_order_channel(study), service_narrative.after(study),
                 service_narrative.method(study, followup_days=90, recent_months=6, has_transactions=tx is not None),
                 service_narrative.data_summary(study)]
        assert not any("nan" in text for text in texts)
        for view in (service_narrative.comparison_view(study), service_narrative.issues_view(study),
                     service_narrative.trend_view(study, 6), service_narrative.breach_view(study.by_channel, ["channel"])):
            view.to_html()
        figures = [service_figures.response_resolution(study.flagged, study.promise, study.alternative),
                   service_figures.breach_heatmap(study.by_channel_severity), service_figures.issue_bars(study.issues),
                   service_figures.issue_trend(study.monthly)]
        if study.after is not None:
            figures.append(service_figures.after_ticket(study.after))
        for fig in figures:
            plt.close(fig)
        assert "not_recorded" not in service_narrative.issues(study)


def test_every_text_table_and_figure_in_chinese():
    import re

    import matplotlib.pyplot as plt

    from helpers.studies.service import figures as service_figures
    from helpers.studies.service import narrative as service_narrative

    zh = "zh-CN"
    rows = [("a", T0, H, 30 * H, "hotline", "ordinary", "refund"), ("b", T0, 30 * H, 60 * H, "wechat", None, None),
            ("c", pd.Timestamp("2024-12-31 20:00"), None, None, "wechat", "major", "refund")]
    purchases = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": [T0 + pd.Timedelta(days=5)] * 2, "amount": 1.0})
    for tx in (purchases, None):
        study = sv.run_service_study(tickets(rows), tx, "2024-12-31")
        texts = [service_narrative.title(zh), service_narrative.headline(study, zh), service_narrative.actions(study, zh),
                 service_narrative.promises(study, zh), service_narrative.breaches(study, zh),
                 service_narrative.issues(study, zh), service_narrative.trend(study, 6, zh),
                 service_narrative.after(study, zh),
                 service_narrative.method(study, followup_days=90, recent_months=6, has_transactions=tx is not None,
                                          language=zh),
                 service_narrative.data_summary(study, zh)]
        assert not any("nan" in t for t in texts)
        assert all(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
        assert "24 小时内首次响应" in texts[1] and "15 分钟" in texts[3] and " h " not in " ".join(texts)
        html = "".join(v.to_html() for v in (
            service_narrative.comparison_view(study, zh), service_narrative.issues_view(study, zh),
            service_narrative.trend_view(study, 6, zh), service_narrative.breach_view(study.by_channel, ["channel"], zh)))
        for word in ("服务承诺", "备选承诺", "退款", "客服热线", "微信客服", "未记录", "发生率比"):
            assert word in html, word
        assert "Promise" not in html and "Refund" not in html
        # one term per concept (glossary): 时效达标 for a promise met, 超时 for one breached, never 兑现/未兑现
        assert "超时" in html and "超时" in texts[4] and "时效达标" in texts[3]  # breaches; promises
        assert "兑现" not in html + " ".join(texts)
        figures = [service_figures.response_resolution(study.flagged, study.promise, study.alternative, zh),
                   service_figures.breach_heatmap(study.by_channel_severity, language=zh),
                   service_figures.issue_bars(study.issues, zh), service_figures.issue_trend(study.monthly, language=zh)]
        if study.after is not None:
            figures.append(service_figures.after_ticket(study.after, zh))
            after_html = service_narrative.after_view(study, zh).to_html()
            assert "第一张工单" in after_html and "时效达标" in after_html and "超时" in after_html
        for fig in figures:
            words = [t.get_text() for t in fig.findobj(plt.Text)]
            assert not [w for w in words if re.search(r"[A-Za-z]{3}", w)], words
            plt.close(fig)
    assert service_narrative.hours(0.25, zh) == "15 分钟" and service_narrative.hours(0.25) == "15 min"
    assert service_narrative.hours(96, zh) == "4.0 天"
