"""Numbers as a reader sees them: money, counts, percentages, fit-quality words.

Shared by every page. Amounts are formatted in the page language (¥23.4万 in Chinese,
¥234k in English) and ``$`` is escaped for Markdown, which would read it as LaTeX.
Thresholds that turn numbers into words are named constants so a page's claims can be traced.
"""

from __future__ import annotations

from helpers.report.i18n import is_chinese

#: |total holdout error| (percent) at or below which a model "tracks" the holdout well.
GOOD_TOTAL_ERROR_PCT = 10.0
#: ... and above which it is "off" rather than "fair".
POOR_TOTAL_ERROR_PCT = 25.0

_EN_SIZES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))
_ZH_SIZES = ((1e8, "亿"), (1e4, "万"))


def money(value: float, currency: str = "$", language: str = "en", *, markdown: bool = True) -> str:
    """Format an amount: $1.2M, $45.3k, $812 (Chinese: ¥23.4万, ¥1.2亿).

    For Markdown (the default) a dollar sign is escaped: Markdown renderers read text
    between two "$" as LaTeX. Pass ``markdown=False`` for plain text.
    """
    sign = "-" if value < 0 else ""
    if markdown:
        currency = currency.replace("$", "\\$")
    value = abs(value)
    for size, suffix in _ZH_SIZES if is_chinese(language) else _EN_SIZES:
        if value >= size:
            return f"{sign}{currency}{value / size:,.1f}{suffix}"
    return f"{sign}{currency}{value:,.0f}"


def count(value: float) -> str:
    return f"{value:,.0f}"


def pct(value: float, digits: int = 0) -> str:
    return f"{value:.{digits}%}"


def signed_pct(value_pct: float) -> str:
    """A percentage already in percent units, with its sign: +3.2%."""
    return f"{value_pct:+.1f}%"


def fit_quality(total_error_pct: float) -> str:
    """'good', 'fair' or 'poor' from the total holdout error."""
    error = abs(total_error_pct)
    if error <= GOOD_TOTAL_ERROR_PCT:
        return "good"
    if error <= POOR_TOTAL_ERROR_PCT:
        return "fair"
    return "poor"
