"""Spark aggregation (local mode) gives exactly what the pandas loader + summary give."""

import shutil

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed (optional extra: pip install '.[spark]')")
if shutil.which("java") is None:
    pytest.skip("PySpark needs Java 17+ and no 'java' is on PATH", allow_module_level=True)

from helpers.data.loading import transactions_from_frame
from helpers.errors import DataError
from helpers.models.spark import summary_from_spark
from helpers.models.summary import customer_summary

from ._cdnow import CALIBRATION_END, OBSERVATION_END, master

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),  # "does not yet fully support pandas 3"
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("helpers-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def assert_same_summary(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(ours.index) == list(reference.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), reference[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=1e-12, atol=1e-12)


def to_spark(spark, frame: pd.DataFrame):
    return spark.createDataFrame(frame.astype({c: object for c in frame.columns if frame[c].dtype == "str"}))


def pandas_path(frame: pd.DataFrame, observation_end=None, time_unit="D", **policies) -> pd.DataFrame:
    tx = transactions_from_frame(frame, observation_end=observation_end, **policies).transactions
    return customer_summary(tx, observation_end, time_unit)


@pytest.mark.parametrize("end", [OBSERVATION_END, CALIBRATION_END])
def test_cdnow_summary_equals_pandas_path(spark, end):
    data = master()[["customer_id", "timestamp", "amount"]]
    ours = summary_from_spark(to_spark(spark, data), observation_end=end, time_unit="W", future_dates="drop")
    assert_same_summary(ours, pandas_path(data, end, "W", future_dates="drop"))


EDGE = pd.DataFrame(
    [
        ("a", "2024-01-01 09:00:00", 10.0),
        ("a", "2024-01-01 18:30:00", 5.0),  # same day: merged
        ("a", "2024-01-11 10:00:00", 20.0),
        ("a", "2024-01-21 11:00:00", 40.0),
        ("a", "2024-01-21 12:00:00", -40.0),  # netted: the day stays, worth 0
        ("a", "2024-01-25 12:00:00", 30.0),
        ("a", "2024-01-26 08:00:00", -7.0),  # a return alone on its day: dropped
        ("b", "2024-01-05 10:00:00", 7.0),
        ("b", "2024-01-31 23:59:00", 3.0),  # last minute of the period: inside
        ("c", "2024-02-01 10:00:00", 9.0),  # after the observation end
    ],
    columns=["会员编号", "下单时间", "实付金额"],  # Chinese headers, matched by alias
)


@pytest.mark.parametrize("policy", ["net", "drop"])
def test_edge_cases_equal_pandas_path_and_hand_computation(spark, policy):
    frame = EDGE.assign(下单时间=pd.to_datetime(EDGE["下单时间"]))
    ours = summary_from_spark(
        to_spark(spark, frame), observation_end="2024-01-31", future_dates="drop", returns_policy=policy
    )
    assert_same_summary(ours, pandas_path(frame, "2024-01-31", future_dates="drop", returns_policy=policy))
    a = ours.loc["a"]
    assert (a["frequency"], a["recency"], a["T"]) == (3, 24, 30)
    expected = (20 + 0 + 30) / 3 if policy == "net" else (20 + 40 + 30) / 3
    assert a["monetary_value"] == pytest.approx(expected)
    assert list(ours.index) == ["a", "b"]


def test_text_dates_and_default_end(spark):
    ours = summary_from_spark(to_spark(spark, EDGE))  # ISO text timestamps
    assert_same_summary(ours, pandas_path(EDGE))


def test_problems_are_data_errors_with_examples(spark):
    with pytest.raises(DataError, match=r"'下单时间'.*after the observation end 2024-01-31.*2024-02-01"):
        summary_from_spark(to_spark(spark, EDGE), observation_end="2024-01-31")
    with pytest.raises(DataError, match=r"'实付金额'.*negative"):
        summary_from_spark(to_spark(spark, EDGE), observation_end="2024-02-28", returns_policy="error")
    bad = EDGE.copy()
    bad.loc[3, "下单时间"] = "soon"
    with pytest.raises(DataError, match=r"dates cannot be read.*'soon'.*no row numbers"):
        summary_from_spark(to_spark(spark, bad))
