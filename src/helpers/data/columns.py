"""Canonical transaction columns and the header names retailers actually export.

Every loader maps a file's headers onto the canonical names below before anything
else happens, so the rest of the package only ever sees ``customer_id``,
``timestamp``, ``amount`` and the optional columns. Columns that are not mapped are
never read into the pipeline (see :mod:`helpers.data.loading`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence

from helpers.errors import ConfigError, DataError

CUSTOMER_ID = "customer_id"
TIMESTAMP = "timestamp"
AMOUNT = "amount"
ORDER_ID = "order_id"
QUANTITY = "quantity"
CHANNEL = "channel"
STORE = "store"
CATEGORY = "category"
#: discount given on the row (list price minus amount paid), in the amount's currency
DISCOUNT = "discount"
#: the promotion the order was bought in (e.g. 618, double11, member_day, coupon; empty = none)
PROMOTION = "promotion"

REQUIRED: tuple[str, ...] = (CUSTOMER_ID, TIMESTAMP, AMOUNT)
OPTIONAL: tuple[str, ...] = (ORDER_ID, QUANTITY, CHANNEL, STORE, CATEGORY, DISCOUNT, PROMOTION)
#: optional columns read as numbers (the others are text)
NUMERIC_OPTIONAL: tuple[str, ...] = (QUANTITY, DISCOUNT)
CANONICAL: tuple[str, ...] = REQUIRED + OPTIONAL

#: Header names seen in real exports (POS systems, Tmall/JD/Youzan back offices, CRM
#: dumps, the CDNOW file). Matching ignores case, surrounding whitespace, a BOM,
#: full-width forms, the separators space/_/- and a trailing unit such as "(元)".
ALIASES: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: (
        "customer_id", "customer", "customer id", "customer_no", "customer_number",
        "customer_code", "cust_id", "client_id", "member_id", "member", "member_no",
        "member_number", "membership_id", "user_id", "userid", "buyer_id", "account_id",
        "客户ID", "客户编号", "客户号", "客户代码", "会员ID", "会员编号", "会员号",
        "会员卡号", "用户ID", "用户编号", "顾客ID", "顾客编号", "买家ID", "买家编号",
    ),
    TIMESTAMP: (
        "date", "datetime", "timestamp", "time", "order_date", "order_time",
        "order_datetime", "purchase_date", "purchase_time", "transaction_date",
        "transaction_time", "invoice_date", "invoicedate", "sale_date", "created_at",
        "paid_at", "payment_time",
        "日期", "时间", "订单日期", "订单时间", "下单时间", "下单日期", "交易时间",
        "交易日期", "支付时间", "付款时间", "购买日期", "购买时间", "消费日期",
        "消费时间", "销售日期", "成交时间", "创建时间",
    ),
    AMOUNT: (
        "amount", "sales", "revenue", "dollar_value", "value", "total", "order_amount",
        "order_value", "order_total", "total_amount", "sales_amount", "net_sales",
        "paid_amount", "payment_amount", "spend", "price_total",
        "金额", "实付金额", "订单金额", "销售额", "销售金额", "消费金额", "支付金额",
        "成交金额", "实收金额", "付款金额", "交易金额", "应付金额", "实付款",
    ),
    ORDER_ID: (
        "order_id", "order", "order_no", "order_number", "invoice", "invoice_no",
        "invoiceno", "transaction_id", "receipt_no", "ticket_id",
        "订单号", "订单编号", "订单ID", "交易单号", "交易编号", "流水号", "小票号", "单号",
    ),
    QUANTITY: (
        "quantity", "qty", "units", "items", "number_of_items", "number_of_cds",
        "数量", "件数", "购买数量", "商品数量", "销售数量",
    ),
    CHANNEL: (
        "channel", "sales_channel", "source", "platform",
        "渠道", "销售渠道", "来源渠道", "平台", "订单来源",
    ),
    STORE: (
        "store", "store_id", "store_name", "shop", "shop_id", "shop_name", "outlet",
        "branch", "location",
        "门店", "门店编号", "门店名称", "门店ID", "店铺", "店铺名称", "店铺编号", "店名",
    ),
    CATEGORY: (
        "category", "product_category", "category_name", "department",
        "品类", "类目", "商品类别", "商品类目", "商品分类", "类别", "分类", "品类名称",
    ),
    DISCOUNT: (
        "discount", "discount_amount", "discount_value", "markdown", "promo_discount", "promotion_discount",
        "coupon_discount", "total_discount",
        "优惠金额", "折扣金额", "优惠", "折扣", "优惠额", "减免金额", "让利金额", "促销优惠", "总优惠",
    ),
    PROMOTION: (
        "promotion", "promotion_type", "promo", "promo_type", "campaign_type", "promotion_name", "activity",
        "促销类型", "促销活动", "活动类型", "活动名称", "营销活动", "促销", "活动",
    ),
}

_SEPARATORS = re.compile(r"[\s_\-]+")
_TRAILING_UNIT = re.compile(r"\s*\([^()]*\)\s*$")


def normalise_header(header: object) -> str:
    """Return the form of ``header`` used for alias matching.

    NFKC folds full-width letters and brackets that Chinese spreadsheets often
    contain; a trailing unit like "(元)" or "(USD)" carries no meaning for matching.
    """
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip()
    text = _TRAILING_UNIT.sub("", text) or text
    return _SEPARATORS.sub("_", text.casefold()).strip("_")


_ALIAS_LOOKUP: dict[str, str] = {
    normalise_header(alias): canonical
    for canonical, aliases in ALIASES.items()
    for alias in aliases
}


def _headers_text(headers: Sequence[str]) -> str:
    return ", ".join(f"'{h}'" for h in headers) or "(none)"


def _map_hint(example: Mapping[str, str]) -> str:
    pairs = ", ".join(f"'{k}': '{v}'" for k, v in example.items())
    return f"Pass a column map naming the file's header for each column, e.g. column_map={{{pairs}}}."


def check_column_map(
    column_map: Mapping[str, str], canonical: Sequence[str] = CANONICAL, name: str = "column_map"
) -> None:
    """A column map ``{canonical: header}``: known keys, non-empty headers, each header once
    (every problem a :class:`ConfigError` naming the map as ``name``)."""
    unknown = [k for k in column_map if k not in canonical]
    if unknown:
        raise ConfigError(
            f"{name} has unknown key(s) {', '.join(repr(k) for k in unknown)}; the keys are "
            f"the canonical column names: {', '.join(canonical)} (values are the file's headers)."
        )
    bad = [k for k, v in column_map.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ConfigError(
            f"{name} values must be non-empty header names; check the entry for {bad[0]!r}."
        )
    seen: dict[str, str] = {}
    for canonical, header in column_map.items():
        if header in seen:
            raise ConfigError(
                f"{name} maps both {seen[header]!r} and {canonical!r} to the header "
                f"{header!r}; each header can feed one column only."
            )
        seen[header] = canonical


def _find_mapped(header: str, headers: Sequence[str], canonical: str, file: str) -> str:
    if header in headers:
        return header
    # Tolerate invisible differences (BOM, trailing spaces, full-width) but not guesses.
    loose = [h for h in headers if normalise_header(h) == normalise_header(header)]
    if len(loose) == 1:
        return loose[0]
    close = difflib.get_close_matches(header, list(headers), n=1, cutoff=0.6)
    suggestion = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(
        f"the column map says '{canonical}' is in column '{header}', but the file has no such "
        f"column",
        file=file,
        column=header,
        hint=f"The file's columns are: {_headers_text(headers)}.{suggestion}",
    )


def resolve_columns(
    headers: Sequence[str], column_map: Mapping[str, str] | None, *, file: str
) -> dict[str, str]:
    """Decide which header of a file feeds each canonical column.

    Parameters
    ----------
    headers:
        The file's header names, in file order.
    column_map:
        Optional ``{canonical: header}``. Explicit entries win over alias matching;
        canonical columns not in the map are still matched through :data:`ALIASES`.
    file:
        Name used in error messages.

    Returns
    -------
    dict
        ``{canonical: header}`` for every required column and each optional column
        found, in :data:`CANONICAL` order.

    Raises
    ------
    ConfigError
        Unknown canonical key or malformed value in ``column_map``.
    DataError
        A mapped header is absent, a required column cannot be found, or two
        headers match the same column.
    """
    headers = [str(h) for h in headers]
    column_map = dict(column_map or {})
    check_column_map(column_map)
    resolved = {c: _find_mapped(h, headers, c, file) for c, h in column_map.items()}
    taken = set(resolved.values())

    for canonical in CANONICAL:
        if canonical in resolved:
            continue
        matches = [
            h for h in headers if h not in taken and _ALIAS_LOOKUP.get(normalise_header(h)) == canonical
        ]
        if len(matches) > 1:
            raise DataError(
                f"several columns could be '{canonical}': {_headers_text(matches)}",
                file=file,
                hint=_map_hint({canonical: matches[0]}),
            )
        if matches:
            resolved[canonical] = matches[0]
            taken.add(matches[0])
        elif canonical in REQUIRED:
            raise DataError(
                f"no column for '{canonical}' was found (the file's columns are: "
                f"{_headers_text(headers)})",
                file=file,
                hint=_missing_hint(canonical, headers),
            )
    return {c: resolved[c] for c in CANONICAL if c in resolved}


def _missing_hint(canonical: str, headers: Sequence[str]) -> str:
    by_norm = {normalise_header(h): h for h in headers}
    close = next(
        (
            match
            for alias in ALIASES[canonical]
            for match in difflib.get_close_matches(normalise_header(alias), list(by_norm), n=1, cutoff=0.75)
        ),
        None,
    )
    guess = by_norm[close] if close else "<header in your file>"
    aliases = ALIASES[canonical]
    accepted = ", ".join([a for a in aliases if a.isascii()][:4] + [a for a in aliases if not a.isascii()][:3])
    return f"Accepted names include {accepted} (see data/README.md). " + _map_hint({canonical: guess})
