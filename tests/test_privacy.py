import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

from helpers.data.privacy import (
    DEFAULT_KEY,
    KEY_ENV_VAR,
    display_ids,
    drop_personal_data,
    find_personal_data_columns,
    pseudonymise,
    resolve_key,
)
from helpers.errors import ConfigError


def test_pseudonymise_format_and_determinism():
    ids = pd.Series(["00001", "00002", "00001", None], index=[5, 6, 7, 8], name="customer_id")
    out = pseudonymise(ids, "k1")
    assert out.index.tolist() == [5, 6, 7, 8] and out.name == "customer_id"
    assert out.iloc[0] == out.iloc[2] != out.iloc[1]
    assert pd.isna(out.iloc[3])
    assert out.iloc[:3].str.fullmatch(r"C-[0-9a-f]{12}").all()
    expected = "C-" + hmac.new(b"k1", b"00001", hashlib.sha256).hexdigest()[:12]
    assert out.iloc[0] == expected
    assert pseudonymise(ids, "k1").equals(out)
    assert pseudonymise(ids, "k2").iloc[0] != out.iloc[0]
    assert pseudonymise(ids, b"k1").iloc[0] == expected


def test_pseudonymise_keeps_leading_zeros_distinct():
    out = pseudonymise(pd.Series(["1", "01", "001"]), "k")
    assert out.nunique() == 3


def test_empty_key_is_config_error():
    with pytest.raises(ConfigError, match=KEY_ENV_VAR):
        pseudonymise(pd.Series(["a"]), "")


def test_resolve_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    assert resolve_key(None) == (DEFAULT_KEY, True)
    assert resolve_key("") == (DEFAULT_KEY, True)
    monkeypatch.setenv(KEY_ENV_VAR, "from-env")
    assert resolve_key(None) == ("from-env", False)
    assert resolve_key("explicit") == ("explicit", False)


def test_display_ids(monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    ids = pd.Series(["00001", "00002"])
    assert display_ids(ids, allow_raw_ids=True).tolist() == ["00001", "00002"]
    hidden = display_ids(ids)
    assert hidden.equals(pseudonymise(ids, DEFAULT_KEY))
    assert display_ids(ids, key="other").iloc[0] != hidden.iloc[0]


@pytest.mark.parametrize(
    "header",
    ["姓名", "收货人", "手机号", "联系电话", "邮箱", "收货地址", "身份证号", "Customer Name", "Email",
     "E-mail Address", "Phone", "mobile_no", "tel", "Address", "zip", "Date of Birth", "名字"],
)
def test_personal_headers_found(header):
    assert find_personal_data_columns(pd.DataFrame({header: ["x"]})) == [header]


@pytest.mark.parametrize(
    "header",
    ["customer_id", "会员编号", "store_name", "门店名称", "category", "order_date", "amount", "hotel", "渠道"],
)
def test_ordinary_headers_not_flagged(header):
    assert find_personal_data_columns(pd.DataFrame({header: ["x"]})) == []


def test_personal_values_found():
    n = 20
    frame = pd.DataFrame(
        {
            "c1": [f"user{i}@example.com" for i in range(n)],
            "c2": [f"139{i:08d}" for i in range(n)],
            "c3": np.arange(13800000000, 13800000000 + n),
            "c4": [f"+1 415 555 {1000 + i}" for i in range(n)],
            "order_no": [f"2024010500{i:04d}" for i in range(n)],
            "day": ["19970101"] * n,
            "amount": np.linspace(1, 100, n),
        }
    )
    assert find_personal_data_columns(frame) == ["c1", "c2", "c3", "c4"]
    kept, dropped = drop_personal_data(frame)
    assert dropped == ["c1", "c2", "c3", "c4"]
    assert list(kept.columns) == ["order_no", "day", "amount"]


def test_mostly_rule():
    frame = pd.DataFrame({"note": ["13900000000"] + ["ok"] * 9})
    assert find_personal_data_columns(frame) == []


def test_screens_the_raw_gbk_sample(samples_dir):
    raw = pd.read_csv(samples_dir / "transactions_zh_gbk.csv", encoding="gbk", dtype=str)
    assert find_personal_data_columns(raw) == ["手机号", "收货人"]


def test_consent_flags_about_a_channel_are_not_contact_details():
    frame = pd.DataFrame({"marketing_wechat": [True, False], "wechat_id": ["wx_a1", "wx_b2"], "微信号": ["a", "b"]})
    assert find_personal_data_columns(frame) == ["wechat_id", "微信号"]


@pytest.fixture(params=["duckdb", "python"])
def route(request, monkeypatch):
    """Both ways of hashing: DuckDB's SQL (large inputs) and hashlib (small ones, or when
    DuckDB refuses)."""
    from helpers.data import privacy

    monkeypatch.setattr(privacy, "DUCKDB_MIN_IDS", 0 if request.param == "duckdb" else 10**12)
    return request.param


def _hmac_pseudonym(key, text):
    secret = key.encode("utf-8") if isinstance(key, str) else key
    return "C-" + hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


@pytest.mark.parametrize("key", ["k", "retail-playbooks-default-id-key", "x" * 64, "y" * 65 + "长", b"\x00\xffraw"])
def test_pseudonyms_are_hmac_sha256_of_the_id_text(key, route):
    """Both routes build HMAC from the keyed pads (RFC 2104); the pseudonyms are exactly
    hmac.new's, keys longer than a block included."""
    ids = pd.Series(["M0000001", "会员-7", "", "a,b", "M0000001"], name="customer_id")
    expected = [_hmac_pseudonym(key, i) for i in ids]
    assert pseudonymise(ids, key).tolist() == expected


@pytest.mark.parametrize(
    "kind", ["str", "python_str", "object", "numbers", "nullable_numbers", "floats", "sliced", "empty", "missing"]
)
def test_pseudonyms_from_arrow_buffers_and_python_values_alike(kind, route):
    """Text and integer ids are read as pyarrow text, other ids through pandas' astype(str):
    all exactly hmac.new of the id text, missing ids missing, index and name kept."""
    texts = ["M0000001", "会员-7", "", "a,b", "M0000001", None, "Ünï", "\\x41"]
    if kind == "numbers":
        ids = pd.Series([7, 1, 7, 30, -2], name="customer_id", index=[9, 8, 7, 6, 5])
    elif kind == "nullable_numbers":
        ids = pd.Series([7, None, 2**62], dtype="Int64", name="customer_id")
    elif kind == "floats":
        ids = pd.Series([7.0, np.nan, 2.5], name="customer_id")
    elif kind == "python_str":
        ids = pd.Series(texts, dtype=pd.StringDtype("python"), name="customer_id")
    elif kind == "missing":
        ids = pd.Series([None, None], dtype="str", name="customer_id")
    elif kind == "object":
        ids = pd.Series(texts, dtype=object, name="customer_id")
    elif kind == "sliced":
        ids = pd.Series(texts * 3, dtype="str", name="customer_id").iloc[5:17]
    elif kind == "empty":
        ids = pd.Series([], dtype="str", name="customer_id")
    else:
        ids = pd.Series(texts, dtype="str", name="customer_id")
    expected = [None if pd.isna(i) else _hmac_pseudonym("k", str(i)) for i in ids]
    out = pseudonymise(ids, "k")
    assert [None if pd.isna(v) else v for v in out] == expected
    assert out.index.equals(ids.index) and out.name == "customer_id"
    assert out.dtype == pd.Series(["x"], dtype=str).dtype


def test_equal_ids_get_equal_pseudonyms_whatever_their_type(route):
    mixed = pseudonymise(pd.Series([1, "1", None, "会员"], dtype=object), "k")
    assert mixed.iloc[0] == mixed.iloc[1] == pseudonymise(pd.Series([1]), "k").iloc[0]
    assert mixed.iloc[3] == pseudonymise(pd.Series(["会员"], dtype="str"), "k").iloc[0]
    assert pd.isna(mixed.iloc[2])


def test_duckdb_and_python_routes_agree_on_many_ids_in_order(monkeypatch):
    """Many ids (DuckDB splits them between threads) with duplicates and gaps: the rows come
    back in order and equal to the hashlib route."""
    from helpers.data import privacy

    rng = np.random.default_rng(3)
    ids = pd.Series([f"M{i:06d}" for i in rng.integers(0, 50_000, 150_000)], dtype="str")
    ids[rng.random(len(ids)) < 0.01] = None
    monkeypatch.setattr(privacy, "DUCKDB_MIN_IDS", 0)
    by_duckdb = pseudonymise(ids, "k")
    assert by_duckdb.equals(pseudonymise(ids, "k", threads=1))  # one DuckDB thread: the same rows
    monkeypatch.setattr(privacy, "DUCKDB_MIN_IDS", 10**12)
    assert by_duckdb.equals(pseudonymise(ids, "k"))
    sample = rng.integers(0, len(ids), 200)
    assert [None if pd.isna(i) else _hmac_pseudonym("k", i) for i in ids.iloc[sample]] == [
        None if pd.isna(v) else v for v in by_duckdb.iloc[sample]
    ]


def test_python_route_when_duckdb_refuses(monkeypatch):
    """A DuckDB without sha256 of BLOBs (before 1.1) fails at binding: hashlib takes over."""
    import duckdb

    from helpers.data import privacy

    class Refusing:
        def register(self, *args):
            pass

        def sql(self, *args, **kwargs):
            raise duckdb.BinderException("No function matches sha256(BLOB)")

        def close(self):
            pass

    monkeypatch.setattr(privacy, "DUCKDB_MIN_IDS", 0)
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: Refusing())
    ids = pd.Series(["M1", None, "会员"], dtype="str")
    assert [None if pd.isna(v) else v for v in pseudonymise(ids, "k")] == [
        _hmac_pseudonym("k", "M1"), None, _hmac_pseudonym("k", "会员")
    ]
