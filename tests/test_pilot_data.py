"""Loading and validating customer-level pilot files; the simulated pilot's known truth."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.data.pilot import (
    CONTROL,
    NO_SEGMENT,
    TREATMENT,
    generator_truth,
    pilot_from_frame,
    read_pilot,
    simulate_pilot,
)
from helpers.errors import ConfigError, DataError


def _pilot_frame(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "group": ["control", "treatment"] * (n // 2),
            "pre_period_spend": [float(10 * i) for i in range(n)],
            "outcome_spend": [float(12 * i) for i in range(n)],
        }
    )


# --------------------------------------------------------------------------- simulation


@pytest.fixture(scope="module")
def big():
    return simulate_pilot(400_000, 12.0, 0.6, 5)


def test_simulated_pilot_has_the_promised_moments(big):
    frame, truth = big.frame, big.truth
    control = frame[frame["group"] == CONTROL]
    for col in ("pre_metric", "outcome"):  # untreated: mean 200, sd 300
        assert control[col].mean() == pytest.approx(200, rel=0.02)
        assert control[col].std() == pytest.approx(300, rel=0.04)
    assert np.corrcoef(control["pre_metric"], control["outcome"])[0, 1] == pytest.approx(0.6, abs=0.02)
    assert (frame["group"] == TREATMENT).mean() == pytest.approx(0.5, abs=0.005)
    assert (control["outcome"] > 0).mean() == pytest.approx(truth["purchase_share"], abs=0.005)
    assert (frame[["pre_metric", "outcome"]] >= 0).all().all()
    assert truth["true_effect"] == 12.0 and truth["relative_lift"] == pytest.approx(12.0 / 200)
    assert truth["sample_effect"] == pytest.approx(12.0, rel=0.03)
    # the difference in means estimates the known effect
    treated = frame[frame["group"] == TREATMENT]
    diff = treated["outcome"].mean() - control["outcome"].mean()
    se = np.sqrt(treated["outcome"].var() / len(treated) + control["outcome"].var() / len(control))
    assert abs(diff - 12.0) < 3.5 * se


def test_simulated_segment_truth_follows_the_gamma_partial_expectation(big):
    frame, truth = big.frame, big.truth
    shares = frame["segment"].value_counts(normalize=True)
    assert shares.to_dict() == pytest.approx({"light": 0.5, "medium": 0.3, "heavy": 0.2}, abs=0.005)
    effects = truth["segment_effects"]
    # the segment effects average back to the overall effect
    assert 0.5 * effects["light"] + 0.3 * effects["medium"] + 0.2 * effects["heavy"] == pytest.approx(12.0)
    assert effects["light"] < effects["medium"] < effects["heavy"]
    # effect = lift * untreated mean in the segment, checked on the control group
    control = frame[frame["group"] == CONTROL]
    means = control.groupby("segment")["outcome"].mean()
    for name, effect in effects.items():
        assert effect / truth["relative_lift"] == pytest.approx(means[name], rel=0.03), name


def test_simulation_is_seeded_and_validated():
    a, b = simulate_pilot(500, 5.0, 0.5, 1), simulate_pilot(500, 5.0, 0.5, 1)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not a.frame.equals(simulate_pilot(500, 5.0, 0.5, 2).frame)
    assert a.is_simulated and a.has_segments and a.has_conversion
    flat = simulate_pilot(2000, 5.0, 0.0, 3, segments=())
    assert not flat.has_segments
    assert abs(np.corrcoef(flat.frame["pre_metric"], flat.frame["outcome"])[0, 1]) < 0.1
    with pytest.raises(ConfigError, match="rho"):
        simulate_pilot(500, 5.0, 1.0, 1)
    with pytest.raises(ConfigError, match="purchase_share"):
        simulate_pilot(500, 5.0, 0.9, 1, purchase_share=0.5)
    with pytest.raises(ConfigError, match="at least 20"):
        simulate_pilot(5, 5.0, 0.5, 1)
    with pytest.raises(ConfigError, match="sum to 1"):
        simulate_pilot(500, 5.0, 0.5, 1, segments=(("a", 0.5), ("b", 0.2)))


# --------------------------------------------------------------------------- reading files


def test_reads_a_gbk_csv_with_chinese_headers_and_labels(tmp_path):
    frame = pd.DataFrame(
        {
            "会员编号": ["00017", "00018", "00019", "00020", "00021", "00022"],
            "姓名": ["张三", "李四", "王五", "赵六", "钱七", "孙八"],
            "手机号": ["13800138000"] * 6,
            "组别": ["对照组", "实验组", "对照组", "实验组", " 实验组 ", "对照组"],
            "活动前消费": ["1,280.00", "￥35.5", "0", "12", "7.25", "300"],
            "活动后消费": ["1,300.10", "40", "0", "15", "8", "310"],
            "会员等级": ["金卡", "银卡", "", "金卡", "银卡", "金卡"],
            "是否转化": ["是", "是", "否", "是", "是", "是"],
        }
    )
    path = tmp_path / "试点.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    pilot = read_pilot(path, control_label="对照组", treatment_label="实验组")
    assert pilot.encoding == "gb18030"
    assert pilot.columns == {"customer_id": "会员编号", "group": "组别", "pre_metric": "活动前消费",
                             "outcome": "活动后消费", "segment": "会员等级", "converted": "是否转化"}
    assert set(pilot.ignored_columns) == {"姓名", "手机号"}
    out = pilot.frame
    assert list(out.columns) == ["customer_id", "group", "pre_metric", "outcome", "segment", "converted"]
    assert out["customer_id"].tolist()[0] == "00017"  # ids stay text
    assert out["group"].tolist() == ["control", "treatment", "control", "treatment", "treatment", "control"]
    assert out["pre_metric"].tolist() == [1280.0, 35.5, 0.0, 12.0, 7.25, 300.0]
    assert out["segment"].tolist()[2] == NO_SEGMENT
    assert out["converted"].tolist() == [True, True, False, True, True, True]
    assert "13800138000" not in out.to_csv()
    assert (pilot.n_control, pilot.n_treatment) == (3, 3)


def test_column_map_reads_unknown_headers_from_excel_and_parquet(tmp_path):
    frame = pd.DataFrame(
        {"VIP卡号": ["a", "b", "c", "d"], "AB": ["A", "B", "A", "B"], "Q2销售": [1.0, 2, 3, 4], "Q3销售": [2.0, 2, 5, 4]}
    )
    column_map = {"customer_id": "VIP卡号", "group": "AB", "pre_metric": "Q2销售", "outcome": "Q3销售"}
    frame.to_excel(tmp_path / "pilot.xlsx", index=False)
    frame.to_parquet(tmp_path / "pilot.parquet")
    for name in ("pilot.xlsx", "pilot.parquet"):
        pilot = read_pilot(tmp_path / name, column_map, control_label="a", treatment_label="b")  # case-insensitive
        assert pilot.frame["group"].tolist() == ["control", "treatment", "control", "treatment"]
        assert pilot.frame["outcome"].tolist() == [2.0, 2, 5, 4]


def test_generator_campaign_exposures_are_recognised_without_a_map(tmp_path):
    from helpers.data.generator import GeneratorConfig, generate, write

    data = generate(GeneratorConfig(n_customers=1500, seed=3))
    paths = write(data, tmp_path, "csv")
    pilot = read_pilot(paths["campaign_exposures"])
    assert pilot.columns == {"customer_id": "customer_id", "group": "group", "pre_metric": "pre_period_spend",
                             "outcome": "outcome_spend", "converted": "converted"}
    assert set(pilot.ignored_columns) == {"campaign_id", "exposed_at"}
    assert len(pilot.frame) == len(data.campaign_exposures)
    assert pilot.frame["outcome"].sum() == pytest.approx(data.campaign_exposures["outcome_spend"].sum())
    truth = generator_truth(paths["truth"])
    assert truth["true_effect"] == data.truth["pilot"]["sample_average_treatment_effect_cny"]
    assert truth["kind"] == "generator"


# --------------------------------------------------------------------------- errors


def _error(frame: pd.DataFrame, **kw) -> str:
    with pytest.raises(DataError) as info:
        pilot_from_frame(frame, source="pilot.csv", **kw)
    return str(info.value)


def test_unknown_group_labels_name_rows_and_values():
    frame = _pilot_frame()
    frame.loc[2, "group"] = "holdout"
    frame.loc[5, "group"] = "holdout"
    message = _error(frame)
    assert "pilot.csv" in message and "column 'group'" in message
    assert "labels other than 'control' and 'treatment': 'holdout' (2 rows)" in message
    assert "row 4: 'holdout'" in message and "row 7" in message
    assert "control_label" in message


def test_missing_and_bad_values_name_rows_and_values():
    frame = _pilot_frame()
    frame["outcome_spend"] = frame["outcome_spend"].astype(object)
    frame.loc[3, "outcome_spend"] = None
    assert "outcome values are missing" in (m := _error(frame)) and "row 5" in m and "'outcome_spend'" in m
    frame.loc[3, "outcome_spend"] = "lots"
    assert "not numbers" in (m := _error(frame)) and "row 5: 'lots'" in m
    frame = _pilot_frame()
    frame.loc[1, "customer_id"] = " "
    assert "customer ids are missing" in (m := _error(frame)) and "row 3" in m


def test_negative_revenue_is_an_error_unless_allowed():
    frame = _pilot_frame()
    frame.loc[6, "pre_period_spend"] = -15.0
    message = _error(frame)
    assert "pre-period values are negative" in message and "row 8: -15.0" in message
    assert "allow_negative" in message
    assert pilot_from_frame(frame, allow_negative=True).frame["pre_metric"].min() == -15.0


def test_a_single_group_or_a_tiny_group_is_an_error():
    frame = _pilot_frame()
    frame["group"] = "control"
    message = _error(frame)
    assert "every customer is in the control group" in message and "'treatment'" in message
    frame.loc[0, "group"] = "treatment"
    assert "only 1 customer" in _error(frame)


def test_duplicate_customers_are_an_error():
    frame = _pilot_frame()
    frame.loc[4, "customer_id"] = "C001"
    message = _error(frame)
    assert "more than one row" in message and "row 3: 'C001'" in message and "row 6: 'C001'" in message


def test_missing_and_misnamed_columns():
    frame = _pilot_frame().drop(columns="pre_period_spend")
    message = _error(frame)
    assert "no column for 'pre_metric'" in message and "活动前消费" in message
    message = _error(_pilot_frame(), column_map={"outcome": "outcome_spnd"})
    assert "no such column" in message and "Did you mean 'outcome_spend'" in message
    frame = _pilot_frame()
    frame["revenue_after"] = frame["outcome_spend"]
    assert "several columns could be 'outcome'" in _error(frame)


def test_bad_conversion_flags_and_bad_parameters():
    frame = _pilot_frame()
    frame["converted"] = ["yes", "no", "maybe", "1", "0", "是", "否", "true"]
    message = _error(frame)
    assert "not yes/no values" in message and "row 4: 'maybe'" in message
    with pytest.raises(ConfigError, match="different groups"):
        pilot_from_frame(_pilot_frame(), control_label="A", treatment_label="a")
    with pytest.raises(ConfigError, match="unknown key"):
        pilot_from_frame(_pilot_frame(), column_map={"amount": "outcome_spend"})


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_pilot(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="no pilot file"):
        read_pilot("")
    bad = tmp_path / "truth.json"
    bad.write_text(json.dumps({"counts": {}}), encoding="utf-8")
    with pytest.raises(DataError, match="no 'pilot' section"):
        generator_truth(bad)


def test_blank_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "pilot.csv"
    path.write_text(
        "customer_id,group,pre_metric,outcome\n1,control,1,2\n,,,\n2,treatment,3,4\n3,control,5,6\n4,treatment,7,8\n",
        encoding="utf-8-sig",
    )
    pilot = read_pilot(path)
    assert pilot.blank_rows == 1 and len(pilot.frame) == 4
    assert pilot.quality_frame()["rows"].tolist()[:2] == [5, 1]


def test_simulated_pre_period_and_outcome_marginals_match():
    """The pre-period metric and the untreated outcome have the same distribution (two-sample KS)."""
    pilot = simulate_pilot(40_000, 0.0, 0.5, 9)
    result = stats.ks_2samp(pilot.frame["pre_metric"], pilot.frame["outcome"])
    assert result.pvalue > 0.001


def test_simulated_pilot_in_chinese_labels_segments_and_source_only():
    english = simulate_pilot(2000, 10.0, 0.6, 3)
    chinese = simulate_pilot(2000, 10.0, 0.6, 3, language="zh-CN")
    names = {"light": "低消费客户", "medium": "中消费客户", "heavy": "高消费客户"}
    assert chinese.frame["segment"].tolist() == english.frame["segment"].map(names).tolist()
    pd.testing.assert_frame_equal(chinese.frame.drop(columns="segment"), english.frame.drop(columns="segment"))
    assert english.source == "simulated pilot" and chinese.source == "模拟试点"
    assert set(chinese.truth["segment_effects"]) == set(names.values())
    # a caller's own segments keep their labels in any language
    own = simulate_pilot(500, 1.0, 0.5, 1, segments=[("a", 0.5), ("b", 0.5)], language="zh-CN")
    assert set(own.frame["segment"]) == {"a", "b"}


def test_quality_frame_in_chinese():
    pilot = pilot_from_frame(_pilot_frame(), control_label="control", treatment_label="treatment")
    english, chinese = pilot.quality_frame(), pilot.quality_frame("zh-CN")
    assert english["reason"].tolist()[:3] == ["rows read", "empty rows skipped", "customers in control ('control')"]
    assert chinese["reason"].tolist()[:3] == ["读取行数", "跳过的空行", "对照组客户（“control”）"]
    assert chinese["rows"].tolist() == english["rows"].tolist()
