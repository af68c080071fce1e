import pytest

from helpers.data import columns as C
from helpers.data.columns import ALIASES, CANONICAL, normalise_header, resolve_columns
from helpers.errors import ConfigError, DataError


def test_canonical_names():
    assert C.REQUIRED == ("customer_id", "timestamp", "amount")
    assert set(C.OPTIONAL) == {"order_id", "quantity", "channel", "store", "category", "discount", "promotion"}
    assert set(ALIASES) == set(CANONICAL)


def test_aliases_do_not_overlap_between_columns():
    owner: dict[str, str] = {}
    for canonical, aliases in ALIASES.items():
        assert canonical in aliases
        for alias in aliases:
            key = normalise_header(alias)
            assert owner.setdefault(key, canonical) == canonical, alias


@pytest.mark.parametrize(
    "header, expected",
    [
        ("\ufeff Customer ID ", "customer_id"),
        ("CUSTOMER-ID", "customer_id"),
        ("实付金额（元）", "实付金额"),
        ("Amount (USD)", "amount"),
        ("ＩＤ", "id"),
    ],
)
def test_normalise_header(header, expected):
    assert normalise_header(header) == expected


def test_chinese_headers_resolve():
    headers = ["订单编号", "会员编号", "下单时间", "实付金额", "数量", "渠道", "门店", "品类", "手机号"]
    assert resolve_columns(headers, None, file="f.csv") == {
        "customer_id": "会员编号",
        "timestamp": "下单时间",
        "amount": "实付金额",
        "order_id": "订单编号",
        "quantity": "数量",
        "channel": "渠道",
        "store": "门店",
        "category": "品类",
    }


def test_cdnow_headers_resolve():
    got = resolve_columns(["customer_id", "date", "number_of_cds", "dollar_value"], None, file="x")
    assert got == {"customer_id": "customer_id", "timestamp": "date", "amount": "dollar_value", "quantity": "number_of_cds"}


def test_explicit_map_wins_over_aliases():
    headers = ["member_id", "vip", "date", "amount"]
    got = resolve_columns(headers, {"customer_id": "vip"}, file="f.csv")
    assert got["customer_id"] == "vip"


def test_explicit_map_tolerates_invisible_differences():
    got = resolve_columns(["Kunde ", "date", "amount"], {"customer_id": "Kunde"}, file="f.csv")
    assert got["customer_id"] == "Kunde "


def test_unknown_map_key_is_config_error():
    with pytest.raises(ConfigError) as err:
        resolve_columns(["a", "date", "amount"], {"client": "a"}, file="f.csv")
    assert "'client'" in str(err.value)
    assert "customer_id" in str(err.value) and "timestamp" in str(err.value)


def test_same_header_mapped_twice_is_config_error():
    with pytest.raises(ConfigError, match="'id'"):
        resolve_columns(["id", "date", "amount"], {"customer_id": "id", "order_id": "id"}, file="f")


def test_mapped_header_absent_names_file_header_and_close_match():
    with pytest.raises(DataError) as err:
        resolve_columns(["member_no", "date", "amount"], {"customer_id": "member_n0"}, file="shop.csv")
    msg = str(err.value)
    assert "shop.csv" in msg and "'member_n0'" in msg
    assert "'member_no', 'date', 'amount'" in msg
    assert "Did you mean 'member_no'" in msg


def test_missing_required_column_lists_headers_and_map_hint():
    with pytest.raises(DataError) as err:
        resolve_columns(["Kunde", "date", "amount"], None, file="shop.csv")
    msg = str(err.value)
    assert "shop.csv" in msg and "'customer_id'" in msg
    assert "'Kunde'" in msg and "column_map=" in msg


def test_ambiguous_alias_asks_for_map():
    with pytest.raises(DataError) as err:
        resolve_columns(["会员编号", "用户ID", "date", "amount"], None, file="shop.csv")
    msg = str(err.value)
    assert "'会员编号'" in msg and "'用户ID'" in msg and "column_map=" in msg


def test_ambiguity_resolved_by_map():
    got = resolve_columns(["下单时间", "支付时间", "会员号", "金额"], {"timestamp": "支付时间"}, file="f")
    assert got["timestamp"] == "支付时间"
