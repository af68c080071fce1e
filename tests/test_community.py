"""Community tables: the generator's planted truth recovered by the community analysis."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.data.generator import GeneratorConfig, generate, write
from helpers.data.generator.community import CommunitySettings, latent_first_year_value
from helpers.errors import ConfigError
from helpers.studies.community import analysis as A

END = "2024-12-31"


@pytest.fixture(scope="module")
def run():
    data = generate(GeneratorConfig(n_customers=6000, seed=5, community=True))
    t = data.extras
    study = A.run_community_study(t["community_members"], t["community_activity"], t["wechat_contacts"], t["referrals"],
                                  data.purchases(), data.customers, observation_end=END)
    return data, study


def test_extension_is_off_by_default_and_not_recorded():
    assert "community" not in GeneratorConfig().to_dict()
    assert GeneratorConfig(community=True).to_dict()["community"] is True
    with pytest.raises(ConfigError, match="community"):
        GeneratorConfig(community="yes")
    with pytest.raises(ConfigError, match="invite_conversion"):
        CommunitySettings(invite_conversion=1.5)


def test_k_factor_and_conversion_recover_the_planted_values(run):
    data, study = run
    truth = data.truth["community"]
    r = study.referrals
    assert r["k_factor"] == pytest.approx(truth["k_factor"], abs=1e-12)  # bookkeeping: referred / customers
    assert r["referred_customers"] == truth["referred_customers"]
    # and the planted expected K-factor (sum of the referral probabilities / customers): within 3 sd
    assert abs(r["k_factor"] - truth["expected_k_factor"]) < 3 * truth["k_factor_sd"]
    assert truth["k_factor_sd"] < 0.1 * truth["expected_k_factor"]
    # invitations convert with the planted probability: within 3 standard errors
    assert abs(r["conversion"] - truth["invite_conversion"]) < 3 * r["conversion_se"]


def test_referred_customer_value_difference_recovers_the_planted_difference(run):
    data, study = run
    planted = data.truth["community"]["referred_value"]["difference"]
    v = study.value
    assert planted > 300  # a real planted difference, not noise
    # observed first-year spend against the latent expected first-year value: within 3 standard errors
    assert abs(v["difference"] - planted) < 3 * v["se"]
    assert v["se"] < 0.2 * planted


def test_activity_rates_by_group_type_recover_the_planted_rates(run):
    _data, study = run
    s = CommunitySettings()
    for gtype, rate in s.activity_rate.items():
        expected = (1 - s.kol_share) * rate + s.kol_share * min(rate * s.kol_activity, 0.95)
        row = study.activity.loc[gtype]
        assert abs(row["activity_rate"] - expected) < 4 * row["activity_se"], gtype
    assert study.activity.loc["interest", "gap"] == pytest.approx(study.activity.loc["interest", "activity_rate"] - 0.6)


def test_a_few_kol_like_members_drive_most_referrals(run):
    data, study = run
    truth = data.extras["truth_community"].set_index("customer_id")
    r = study.referrals
    planted = data.truth["community"]["expected_kol_share_of_referrals"]
    assert planted > 0.5
    assert r["referrals_by_top_inviters"] >= planted - 0.05  # the top 5% of contacts bring most referred customers
    top = data.extras["referrals"].query("converted")["inviter_id"].value_counts().index[: r["top_inviters"]]
    # and they are planted KOL-like members far more often than the 5% base rate
    assert truth.loc[top, "kol"].mean() >= 6 * CommunitySettings().kol_share


def test_latent_value_closed_form():
    tc = pd.DataFrame({"lambda_per_day": [0.01, 0.02], "dropout_probability": [0.5, 1e-12], "mean_spend_per_purchase_day": [100.0, 50.0]})
    v = latent_first_year_value(tc)
    assert v[0] == pytest.approx(100 * (1 + (1 - np.exp(-0.01 * 0.5 * 365)) / 0.5))
    assert v[1] == pytest.approx(50 * (1 + 0.02 * 365), rel=1e-6)  # no dropout: 1 + lambda t purchases


def test_activity_reach_trees_by_hand():
    members = pd.DataFrame({"customer_id": ["a", "b"], "group_id": ["W001", "V001"], "group_type": ["welfare", "vip"],
                            "joined_at": pd.to_datetime(["2024-01-15", "2024-03-01"]), "left_at": pd.to_datetime([None, "2024-04-10"])})
    activity = pd.DataFrame({"customer_id": ["a", "a", "b"], "group_id": ["W001", "W001", "V001"],
                             "month": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-04-01"]), "messages": [1, 2, 3],
                             "events_attended": [0, 0, 1]})
    act = A.activity_by_type(members, activity, "2024-04-30")
    assert act.loc["welfare", "member_months"] == 4 and act.loc["welfare", "activity_rate"] == 0.5  # Jan-Apr, 2 active
    assert act.loc["vip", "member_months"] == 2 and act.loc["vip", "members_now"] == 0  # left in April
    refs = pd.DataFrame({"inviter_id": ["a", "a", "c", "a"], "invitee_id": ["c", None, "d", "e"], "converted": [True, False, True, True]})
    trees = A.referral_trees(refs)
    assert trees.loc["a", "descendants"] == 3 and trees.loc["a", "depth"] == 2 and trees.loc["a", "direct"] == 2
    summary = A.referral_summary(refs, customers=10, potential_inviters=20)
    assert summary["k_factor"] == 0.3 and summary["conversion"] == 0.75 and summary["referrals_by_top_inviters"] == 2 / 3


def test_write_adds_the_community_files(tmp_path):
    data = generate(GeneratorConfig(n_customers=300, seed=2, community=True))
    paths = write(data, tmp_path, "csv")
    assert {"community_members", "community_activity", "wechat_contacts", "referrals", "truth_community"} <= set(paths)
    back = pd.read_csv(paths["referrals"])
    assert len(back) == len(data.extras["referrals"])
    assert json.loads((tmp_path / "truth.json").read_text())["community"]["customers"] == 300


def test_community_loader_reads_chinese_headers_and_names_bad_values():
    from helpers.data.community import table_from_frame
    from helpers.errors import DataError

    frame = pd.DataFrame({"会员编号": ["a", "b"], "群ID": ["G1", "G2"], "群类型": ["福利群", "VIP群"],
                          "入群时间": ["2024-01-02", "2024/3/1"], "退群时间": ["", "2024-05-01"], "手机号": ["13800138000"] * 2})
    t = table_from_frame("community_members", frame).table
    assert list(t["group_type"]) == ["welfare", "vip"] and t["left_at"].isna().tolist() == [True, False]
    assert "手机号" not in t.columns
    with pytest.raises(DataError, match=r"(?s)群类型.*row 3.*宝妈群"):
        table_from_frame("community_members", frame.assign(群类型=["福利群", "宝妈群"]), source="groups.csv")
    refs = pd.DataFrame({"邀请人": ["a", "a"], "被邀请人": ["c", ""], "邀请时间": ["2024-01-01", "2024-01-02"], "是否成功": ["是", "否"]})
    r = table_from_frame("referrals", refs).table
    assert r["converted"].tolist() == [True, False]
    with pytest.raises(DataError, match=r"(?s)是否成功.*row 2.*maybe"):
        table_from_frame("referrals", refs.assign(是否成功=["maybe", "否"]), source="refs.csv")


def test_load_community_reads_complete_tables_and_rejects_partial_ones(tmp_path):
    from helpers.data.community import load_community
    from helpers.errors import DataError

    data = generate(GeneratorConfig(n_customers=300, seed=2, community=True))
    write(data, tmp_path, "csv")
    loaded = load_community(str(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert not loaded.generated and len(loaded["referrals"]) == len(data.extras["referrals"])
    (tmp_path / "referrals.csv").unlink()
    with pytest.raises(DataError, match="referrals missing"):
        load_community(str(tmp_path), cache_dir=str(tmp_path / "cache"))


def test_command_line_writes_the_community_tables(tmp_path):
    from helpers.data.generator import main

    assert main(["--out", str(tmp_path), "--customers", "200", "--seed", "3", "--community", "--quiet"]) == 0
    assert (tmp_path / "referrals.csv").is_file() and "community" in json.loads((tmp_path / "truth.json").read_text())
