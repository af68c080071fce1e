"""Behavioural assumptions of the loyalty lab: named, defaulted, cited, overridable.

A design says what the programme *does*; these say how customers *respond*. Each is a
named parameter with a default, a low and a high value for the sensitivity (tornado)
chart, and a source shown on the pages. The literature gives directions and orders of
magnitude, rarely a number that transfers to another retailer: where a default is a
judgement, its ``source`` says so. Override them per design (``assumptions:`` in the
design YAML) or for every design (the notebook parameter ``assumptions``).

How the simulation uses them (:mod:`helpers.studies.loyalty.engine`): a member's purchase rate
in a month is the model's baseline rate times ``1 + lift``, with

    lift = member_lift + tier_lift_per_level x tier level
           + goal_gradient x (progress to the next reward)
           + tier_pressure x (progress to the next tier)
           + trigger_lift (designs with triggers)

where progress is the share of the distance covered (0 at the start, close to 1 just
before the goal): the goal-distance model of Kivetz, Urminsky & Zheng (2006). The last
three terms are acceleration towards a goal; ``pull_forward_share`` of the purchases
they add are purchases that would have happened later anyway and are taken from the
member's next baseline purchases (the "subsidy" of purchases that would have happened
anyway; rewards and discounts given on baseline purchases are counted as cost without
incremental revenue by construction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from helpers.errors import ConfigError
from helpers.report.i18n import DEFAULT_LANGUAGE, text

REFERENCES: dict[str, str] = {
    "KUZ2006": "Kivetz, R., Urminsky, O. & Zheng, Y. (2006). The goal-gradient hypothesis resurrected: "
    "purchase acceleration, illusionary goal progress, and customer retention. "
    "Journal of Marketing Research 43(1), 39-58.",
    "KSNSS2012": "Kopalle, P. K., Sun, Y., Neslin, S. A., Sun, B. & Swaminathan, V. (2012). The joint sales "
    "impact of frequency reward and customer tier components of loyalty programs. "
    "Marketing Science 31(2), 216-235.",
    "TN2005": "Taylor, G. A. & Neslin, S. A. (2005). The current and future sales impact of a retail "
    "frequency reward program. Journal of Retailing 81(4), 293-305.",
    "LHBS2007": "Leenheer, J., van Heerde, H. J., Bijmolt, T. H. A. & Smidts, A. (2007). Do loyalty programs "
    "really enhance behavioral loyalty? An empirical analysis accounting for self-selecting members. "
    "International Journal of Research in Marketing 24(1), 31-47.",
    "Liu2007": "Liu, Y. (2007). The long-term impact of loyalty programs on consumer purchase behavior and "
    "loyalty. Journal of Marketing 71(4), 19-35.",
    "DVFB2014": "Dorotic, M., Verhoef, P. C., Fok, D. & Bijmolt, T. H. A. (2014). Reward redemption effects in "
    "a loyalty program when customers choose how much and when to redeem. "
    "International Journal of Research in Marketing 31(4), 339-355.",
    "FHL2005": "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). \"Counting your customers\" the easy way: "
    "an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.",
}


@dataclass(frozen=True)
class AssumptionSpec:
    """One behavioural assumption: default, sensitivity range and where the number comes from."""

    name: str
    label: str
    default: float
    low: float
    high: float
    meaning: str
    source: str
    applies_to: str = ""  # "tiers", "points", "triggers", "activities" or "" (every design)
    minimum: float = 0.0
    maximum: float | None = None

    def check(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{self.name} = {value!r}: expected a number ({self.meaning})")
        upper = f" and <= {self.maximum:g}" if self.maximum is not None else ""
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise ConfigError(f"{where}.{self.name} = {value!r}: expected a number >= {self.minimum:g}{upper}")
        return float(value)


def _words(name: str) -> dict[str, str]:
    """An assumption's label, meaning and source in English (the catalog ``loyalty.assumption``)."""
    return {part: text(f"loyalty.assumption.{name}.{part}") for part in ("label", "meaning", "source")}


#: The assumptions; their words (label, meaning, source) live in the catalogs, in English here
#: (also in error messages) and in the page language through :func:`label`, :func:`meaning`, :func:`source`.
SPECS: dict[str, AssumptionSpec] = {
    s.name: s
    for s in (
        AssumptionSpec("member_lift", default=0.03, low=0.0, high=0.06, **_words("member_lift")),
        AssumptionSpec(
            "tier_lift_per_level", default=0.02, low=0.0, high=0.05, **_words("tier_lift_per_level"),
            applies_to="tiers",
        ),
        AssumptionSpec(
            "goal_gradient", default=0.25, low=0.0, high=0.40, **_words("goal_gradient"), applies_to="points",
        ),
        AssumptionSpec(
            "tier_pressure", default=0.10, low=0.0, high=0.25, **_words("tier_pressure"), applies_to="tiers",
        ),
        AssumptionSpec(
            "trigger_lift", default=0.02, low=0.0, high=0.05, **_words("trigger_lift"), applies_to="triggers",
        ),
        AssumptionSpec(
            "redemption_propensity", default=0.6, low=0.3, high=0.9, **_words("redemption_propensity"),
            applies_to="points", maximum=1.0,
        ),
        AssumptionSpec(
            "pull_forward_share", default=0.5, low=0.0, high=1.0, **_words("pull_forward_share"), maximum=1.0,
        ),
        AssumptionSpec("enrolment_rate", default=0.5, low=0.3, high=0.8, **_words("enrolment_rate"), maximum=1.0),
        AssumptionSpec(
            "activity_scale", default=1.0, low=0.5, high=1.5, **_words("activity_scale"), applies_to="activities",
        ),
        AssumptionSpec(
            "outstanding_redeemed_share", default=1.0, low=0.7, high=1.0, **_words("outstanding_redeemed_share"),
            maximum=1.0,
        ),
    )
}

#: Default engagement activity rates: events per member per month (planning values).
ACTIVITY_RATES: dict[str, float] = {
    "check_in": 4.0,
    "share": 0.5,
    "survey": 0.2,
    "review": 0.3,
    "community": 0.5,
    "referral": 0.05,
}

#: Assumptions replaced by a single uniform lift when solving for the break-even lift.
LIFT_NAMES = ("member_lift", "tier_lift_per_level", "goal_gradient", "tier_pressure", "trigger_lift")


def defaults() -> dict:
    """Every assumption at its default, plus the default activity rates."""
    values: dict = {name: spec.default for name, spec in SPECS.items()}
    values["activity_rates"] = dict(ACTIVITY_RATES)
    return values


def check_overrides(overrides: Mapping, where: str) -> dict:
    """Validate a mapping of assumption overrides; unknown names are errors."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where} = {overrides!r}: expected a mapping of assumption names to values")
    out: dict = {}
    for name, value in overrides.items():
        if name == "activity_rates":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.activity_rates = {value!r}: expected a mapping such as {{check_in: 4}}")
            rates = {}
            for act, rate in value.items():
                if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
                    raise ConfigError(
                        f"{where}.activity_rates.{act} = {rate!r}: expected events per member per month (>= 0)"
                    )
                rates[str(act)] = float(rate)
            out["activity_rates"] = rates
            continue
        if name not in SPECS:
            raise ConfigError(
                f"{where}.{name} = {value!r}: unknown assumption; known: {', '.join(SPECS)}, activity_rates"
            )
        out[name] = SPECS[name].check(value, where)
    return out


def resolve(*overrides: Mapping | None, where: str = "assumptions") -> dict:
    """Defaults updated by each mapping of overrides in turn (later ones win)."""
    values = defaults()
    for layer in overrides:
        if not layer:
            continue
        checked = check_overrides(layer, where)
        rates = checked.pop("activity_rates", None)
        values.update(checked)
        if rates:
            values["activity_rates"] = {**values["activity_rates"], **rates}
    return values


def relevant(design, name: str) -> bool:
    """Whether an assumption can change the results of ``design`` (the tornado skips the others)."""
    applies = SPECS[name].applies_to
    if applies == "tiers":
        return bool(design.has_tiers)
    if applies == "points":
        return design.burn.point_value > 0 and design.earn.points_per_currency + sum(
            a.points for a in design.earn.activities
        ) > 0 or any(t.bonus_points for t in design.triggers)
    if applies == "triggers":
        return bool(design.triggers)
    if applies == "activities":
        return bool(design.earn.activities)
    return True


def label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The reader-facing name of assumption ``name`` (or ``gross_margin``) in ``language``."""
    return text(f"loyalty.assumption.{name}.label", language)


def meaning(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """What assumption ``name`` means, in ``language``."""
    return text(f"loyalty.assumption.{name}.meaning", language)


def source(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Where the default of assumption ``name`` comes from, in ``language``."""
    return text(f"loyalty.assumption.{name}.source", language)


def table(values: Mapping, design=None, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The assumptions as a reader-facing table: name, value, range, meaning, source."""
    rows = []
    for name, spec in SPECS.items():
        if design is not None and not relevant(design, name):
            continue
        rows.append(
            {
                "assumption": label(name, language),
                "parameter": name,
                "value": values[name],
                "default": spec.default,
                "low": spec.low,
                "high": spec.high,
                "meaning": meaning(name, language),
                "source": source(name, language),
            }
        )
    return pd.DataFrame(rows)


def references() -> list[str]:
    """Full references for the citations used on the pages."""
    return list(REFERENCES.values())
