"""Design files: the sample designs load, and every mistake names file, key path and value."""

from pathlib import Path

import pytest
import yaml

from helpers.errors import ConfigError
from helpers.studies.loyalty.assumptions import SPECS, check_overrides, resolve
from helpers.studies.loyalty.design import (
    design_from_mapping,
    load_design,
    load_designs,
)

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))

MINIMAL = {"name": "Mini", "burn": {"point_value": 0.01, "redemption_threshold": 100}}


def test_the_sample_designs_load():
    designs = load_designs(DESIGNS)
    assert len(designs) >= 3
    by_slug = {d.slug: d for d in designs}
    tiered = by_slug["tiered"]
    assert tiered.has_tiers and tiered.tier_names == ["bronze", "silver", "gold"]
    assert tiered.levels[1].benefits.discount_pct == 5  # silver pays 95%
    assert tiered.levels[2].benefits.free_returns  # gold: free returns
    assert by_slug["triggers"].triggers and not by_slug["triggers"].has_tiers
    assert by_slug["simple_points"].levels[0].name == "member"


def test_defaults_of_a_minimal_design():
    d = design_from_mapping(MINIMAL, "mini.yaml")
    assert d.earn.points_per_currency == 1.0 and d.burn.redeem == "all_blocks" and d.burn.expiry_months is None
    assert d.costs.fixed_setup == 0 and not d.triggers and not d.has_tiers


def _error(raw, source="designs/x.yaml") -> str:
    with pytest.raises(ConfigError) as err:
        design_from_mapping(raw, source)
    return str(err.value)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({**MINIMAL, "colour": "red"}, ["designs/x.yaml", "colour", "'red'", "unknown key"]),
        ({**MINIMAL, "burn": {"point_value": 0.01, "redemption_threshold": 0}}, ["burn.redemption_threshold", "= 0", "> 0"]),
        ({**MINIMAL, "burn": {"point_value": "ten", "redemption_threshold": 100}}, ["burn.point_value", "'ten'"]),
        ({**MINIMAL, "burn": {"point_value": 0.01, "redemption_threshold": 100, "redeem": "some"}},
         ["burn.redeem", "'some'", "all_blocks"]),
        ({**MINIMAL, "burn": {"point_value": 0.01, "redemption_threshold": 100, "expiry_months": 1.5}},
         ["burn.expiry_months", "1.5", "whole number"]),
        ({"name": "No burn"}, ["designs/x.yaml: missing field burn"]),
        ({**MINIMAL, "earn": {"channel_mix": {"online": 0.7, "store": 0.4}}}, ["earn.channel_mix", "add up to 1"]),
        ({**MINIMAL, "earn": {"activities": {"check_in": {"points": -5}}}}, ["earn.activities.check_in.points", "-5"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "bronze"}]}}, ["tiers.levels", "at least two levels"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "bronze"}, {"name": "silver", "qualify_spend": 300},
                                          {"name": "gold", "qualify_spend": 200}]}},
         ["tiers.levels[2] (gold).qualify_spend", "= 200", "higher than the level below (silver: 300)"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "bronze"}, {"name": "silver"}]}},
         ["tiers.levels[1]", "qualify_spend and/or qualify_visits"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "a"}, {"name": "a", "qualify_spend": 1}]}},
         ["tiers.levels[1] (a).name", "'a'", "unique"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "a"}, {"name": "b", "qualify_spend": 9,
                                                          "benefits": {"discount_pct": 120}}]}},
         ["tiers.levels[1] (b).benefits.discount_pct", "120", "<= 100"]),
        ({**MINIMAL, "tiers": {"retain_fraction": 1.5, "levels": [{"name": "a"}, {"name": "b", "qualify_spend": 9}]}},
         ["tiers.retain_fraction", "1.5"]),
        ({**MINIMAL, "triggers": [{"when": {"purchases_in_month": 3, "spend_in_month": 50},
                                   "reward": {"bonus_points": 1}}]},
         ["triggers[0].when", "exactly one condition"]),
        ({**MINIMAL, "triggers": [{"when": {"visits": 3}, "reward": {"bonus_points": 1}}]},
         ["triggers[0].when.visits", "unknown key", "purchases_in_month"]),
        ({**MINIMAL, "triggers": [{"when": {"purchases_in_month": 3}}]}, ["triggers[0].reward", "give a reward"]),
        ({**MINIMAL, "costs": {"shipped_order_share": 2}}, ["costs.shipped_order_share", "<= 1"]),
        ({**MINIMAL, "assumptions": {"member_lfit": 0.1}}, ["assumptions.member_lfit", "unknown assumption"]),
        ({**MINIMAL, "assumptions": {"redemption_propensity": 1.2}}, ["assumptions.redemption_propensity", "1.2"]),
        ({**MINIMAL, "gross_margin": 0}, ["gross_margin", "= 0", "> 0"]),
        ({**MINIMAL, "tiers": {"levels": [{"name": "a"}, {"name": "b", "qualify_spend": 9}]},
          "member_benefits": {"discount_pct": 5}}, ["member_benefits", "benefits per level"]),
    ],
)
def test_mistakes_name_file_key_and_value(raw, expected):
    message = _error(raw)
    for part in expected:
        assert part in message, (part, message)


def test_yaml_errors_give_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nburn: {point_value: 0.01\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML \(line \d+"):
        load_design(path)


def test_missing_file_and_empty_list(tmp_path):
    with pytest.raises(ConfigError, match="design file not found: .*nope.yaml"):
        load_design(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="design_files is empty"):
        load_designs([])


def test_two_designs_with_one_name_are_refused(tmp_path):
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.yaml").write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    with pytest.raises(ConfigError, match="'Mini' is also used by"):
        load_designs([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_assumptions_resolve_in_order_and_check_values():
    values = resolve({"member_lift": 0.05}, {"member_lift": 0.01, "activity_rates": {"check_in": 9}})
    assert values["member_lift"] == 0.01 and values["activity_rates"]["check_in"] == 9
    assert values["goal_gradient"] == SPECS["goal_gradient"].default
    assert values["activity_rates"]["survey"] == resolve()["activity_rates"]["survey"]  # other rates kept
    with pytest.raises(ConfigError, match=r"the notebook parameter assumptions\.enrolment_rate = 'half'"):
        check_overrides({"enrolment_rate": "half"}, "the notebook parameter assumptions")


def test_every_assumption_has_a_source_and_a_range_around_its_default():
    for spec in SPECS.values():
        assert spec.source and spec.meaning and spec.label
        assert spec.low <= spec.default <= spec.high, spec.name


def test_the_example_in_the_designs_readme_is_a_valid_design():
    import re

    text = (ROOT / "playbooks" / "designs" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    d = design_from_mapping(yaml.safe_load(block), "README example")
    assert d.tier_names == ["bronze", "silver", "gold"] and d.triggers and d.earn.activities
