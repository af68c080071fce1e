"""The one definition of "lapsed" (and so of "active") every page uses.

A customer is **lapsed** when the purchase model's P(alive) is below ``alive_threshold``
*or* they have not bought for more than ``lapsed_days`` days. The recency guard is needed
because BG/NBD (and MBG/NBD for customers who did buy again) can only judge a customer by
their repeat purchases: BG/NBD gives every one-time buyer P(alive) = 1, however long ago
they bought, so P(alive) alone would call a customer silent for 72 weeks "active". The
guard does not depend on the model, so the same customers are lapsed whichever model a
page uses (up to customers whose P(alive) differs across models).

The CLV page, the segment pages and the loyalty lab read the thresholds from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.errors import ConfigError

#: P(alive) below which a customer is counted as lapsed.
ALIVE_THRESHOLD = 0.5
#: Days without a purchase after which a customer is counted as lapsed whatever the model says.
LAPSED_DAYS = 365


@dataclass(frozen=True)
class ActivityRule:
    """The lapsed rule's two thresholds, validated."""

    alive_threshold: float = ALIVE_THRESHOLD
    lapsed_days: int = LAPSED_DAYS

    def __post_init__(self) -> None:
        if not 0 < self.alive_threshold < 1:
            raise ConfigError(f"alive_threshold is a probability between 0 and 1, not {self.alive_threshold!r}.")
        if not isinstance(self.lapsed_days, (int, np.integer)) or isinstance(self.lapsed_days, bool) \
                or self.lapsed_days < 1:
            raise ConfigError(f"lapsed_days must be a whole number of days >= 1, not {self.lapsed_days!r}.")


DEFAULT_RULE = ActivityRule()


def lapsed_mask(p_alive, days_since_last_purchase, rule: ActivityRule = DEFAULT_RULE) -> np.ndarray:
    """True for lapsed customers: P(alive) < threshold, or strictly more than ``lapsed_days``
    days since the last purchase (a customer exactly ``lapsed_days`` days silent is not lapsed)."""
    return (np.asarray(p_alive, dtype="float64") < rule.alive_threshold) | (
        np.asarray(days_since_last_purchase, dtype="float64") > rule.lapsed_days
    )
